"""The web console in a real browser against a real ``segue serve``: the issue's proof list.

Every wait is one of Playwright's auto-waiting expectations; nothing sleeps or measures time.
"""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.api.conftest import wait_status
from tests.browser.conftest import shot
from tests.conftest import FIXTURES

DOC = FIXTURES / "docs" / "keep-a-changelog-CHANGELOG.md"


def start_by_api(api: httpx.Client) -> dict:
    """A doc_ingest task on the fixture document, started by another client, at its wait step."""
    ref = api.post("/files", params={"filename": DOC.name}, content=DOC.read_bytes()).json()
    view = api.post(
        "/tasks", json={"pipeline": "doc_ingest", "config": {"document": ref["document"]}}
    ).json()
    return wait_status(api, view["id"], "WAITING_USER", timeout=60)


def confirm_form(page: Page):
    return page.locator("section.need")


def test_start_a_document_task_edit_its_outline_and_open_the_sections(page: Page, api) -> None:
    """From the page: upload, start, rename / delete / insert outline entries, submit, completed."""
    page.goto("/new?pipeline=doc_ingest")
    page.get_by_label("Document").set_input_files(DOC)
    expect(page.get_by_text(f"Uploaded {DOC.name}")).to_be_visible()
    shot(page, "01-new-task")
    page.get_by_role("button", name="Start the task").click()

    form = confirm_form(page)
    expect(form.get_by_role("heading", name="Confirm the outline")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/task/[0-9a-f-]+$"))
    task_id = page.url.rsplit("/", 1)[1]
    first = page.locator("#input_directory_0_title")
    expect(first).to_have_value("Changelog")
    second = page.locator("#input_directory_1_title").input_value()
    shot(page, "02-confirm-form")

    first.fill("更新日志 (Changelog)")
    page.get_by_role("button", name="Remove item 2", exact=True).click()
    expect(page.locator("#input_directory_1_title")).not_to_have_value(second)
    page.get_by_role("button", name="Insert an item after item 1", exact=True).click()
    page.locator("#input_directory_1_title").fill("A section added by hand")
    page.locator("#input_directory_1_level").fill("2")
    shot(page, "03-outline-edited")
    shot(page, "03-outline-edited-window", full=False)
    form.get_by_role("button", name="Submit").click()

    expect(page.locator("h1 .badge")).to_have_text("completed", timeout=60_000)
    expect(confirm_form(page)).to_have_count(0)
    shot(page, "04-completed")
    shot(page, "04-completed-window", full=False)

    sections = page.locator("details.artifact[data-step='directory_parse']")
    sections.locator("summary").first.click()
    sections.locator("summary", has_text="sections:").click()
    sections.locator("summary", has_text=re.compile(r"^0: \{")).first.click()
    expect(sections.get_by_text('"更新日志 (Changelog)"').first).to_be_visible()
    shot(page, "05-sections-artifact")

    answer = api.get(f"/tasks/{task_id}/artifacts/directory_confirm").json()["directory"]
    titles = [entry["title"] for entry in answer]
    assert titles[:2] == ["更新日志 (Changelog)", "A section added by hand"]
    assert second not in titles[:3]


def test_invalid_input_shows_the_errors_next_to_their_fields(browser: Browser, server, api) -> None:
    """A 422 puts each violation next to the field its JSON pointer names (on a 390 px screen)."""
    view = start_by_api(api)
    context = browser.new_context(base_url=server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"/task/{view['id']}")
        page.locator("#input_directory_0_title").fill("")
        page.locator("#input_directory_1_level").fill("9")
        confirm_form(page).get_by_role("button", name="Submit").click()
        expect(page.get_by_role("alert")).to_contain_text("is invalid")
        expect(page.locator("#input_directory_1_level__error")).to_contain_text(
            "9 is greater than the maximum of 6"
        )
        expect(page.locator("#input_directory_0_title__error")).not_to_be_empty()
        shot(page, "06-field-errors-390px")
    finally:
        context.close()
    assert api.get(f"/tasks/{view['id']}").json()["status"] == "WAITING_USER"


def test_a_409_from_a_second_client_keeps_what_was_typed(page: Page, api) -> None:
    """Another client answers first: the page says so, keeps the input, and can rerun with it."""
    view = start_by_api(api)
    page.goto(f"/task/{view['id']}")
    title = page.locator("#input_directory_0_title")
    title.fill("我的标题")
    other = api.post(
        f"/tasks/{view['id']}/advance",
        json={"step": "directory_confirm", "input": view["required_input"]["prefill"]},
    )
    assert other.status_code == 200, other.text
    confirm_form(page).get_by_role("button", name="Submit").click()

    conflict = page.locator(".conflict")
    expect(conflict).to_contain_text("Someone else answered first")
    expect(conflict).to_contain_text(re.compile(r"Now (it is completed|it is running|it waits)"))
    expect(title).to_have_value("我的标题")
    shot(page, "07-conflict-recovery")

    # The other answer may have completed the task already: wait for the rerun's end.
    answered = api.get(f"/tasks/{view['id']}").json()["revision"]
    conflict.get_by_role("button", name="Rerun the step with my input").click()
    page.get_by_role("dialog").get_by_role("button", name="Rerun with my input").click()
    wait_status(api, view["id"], "COMPLETED", timeout=60, after_revision=answered)
    expect(page.locator("h1 .badge")).to_have_text("completed", timeout=60_000)
    answer = api.get(f"/tasks/{view['id']}/artifacts/directory_confirm").json()
    assert answer["directory"][0]["title"] == "我的标题"


def test_rerun_from_the_confirm_step_and_confirm_again(page: Page, api) -> None:
    """Choose the confirm step on the graph, rerun from it, and answer the new round."""
    view = start_by_api(api)
    api.post(
        f"/tasks/{view['id']}/advance",
        json={"step": "directory_confirm", "input": view["required_input"]["prefill"]},
    )
    wait_status(api, view["id"], "COMPLETED", timeout=60)
    page.goto(f"/task/{view['id']}")
    expect(page.locator("h1 .badge")).to_have_text("completed")

    page.locator("g.node[data-step='directory_confirm']").click()
    expect(page.get_by_role("heading", name="Step Confirm the outline")).to_be_visible()
    shot(page, "08-step-chosen-on-graph")
    page.get_by_role("button", name="Rerun from this step").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label(re.compile("Reason")).fill("the outline needs another look")
    dialog.get_by_role("button", name="Rerun").click()

    title = page.locator("#input_directory_0_title")
    expect(title).to_have_value("Changelog")
    title.fill("再次确认")
    shot(page, "09-confirm-again")
    confirm_form(page).get_by_role("button", name="Submit").click()
    expect(page.locator("h1 .badge")).to_have_text("completed", timeout=60_000)
    expect(page.locator("ol.timeline")).to_contain_text("the outline needs another look")
    shot(page, "10-reconfirmed")

    answer = api.get(f"/tasks/{view['id']}/artifacts/directory_confirm").json()
    assert answer["directory"][0]["title"] == "再次确认"
