"""The console at its edges, as a new user found them: a wrong URL, a chosen step on the graph,
a conflict at the bottom of a long form, the keyboard alone, and a reload in the middle of editing.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.test_console import confirm_form, start_by_api

# The fill of a completed step on the graph (Graph.tsx, COLOURS.COMPLETED).
COMPLETED_FILL = "rgb(220, 252, 231)"


def focused_label(page: Page) -> str:
    return page.evaluate(
        "() => document.activeElement?.getAttribute('aria-label') || document.activeElement?.id || ''"
    )


def test_an_unknown_pipeline_in_the_url_is_named(page: Page) -> None:
    """/new?pipeline=NAME with no such pipeline says so, instead of an empty page."""
    page.goto("/new?pipeline=no_such_pipeline")
    expect(page.get_by_role("alert")).to_contain_text("no_such_pipeline")


def test_a_chosen_step_keeps_its_status_colour_on_the_graph(page: Page, api) -> None:
    """Selecting a step on the graph marks it, without losing the colour of its status."""
    view = start_by_api(api)
    page.goto(f"/task/{view['id']}")
    node = page.locator("g.node[data-step='upload']")
    expect(node).to_have_attribute("aria-pressed", "false")
    shape = node.locator("rect").first
    expect(shape).to_have_css("fill", COMPLETED_FILL)
    node.click()
    expect(page.locator("g.node[data-step='upload']")).to_have_attribute("aria-pressed", "true")
    shape = page.locator("g.node[data-step='upload'] rect").first
    expect(shape).to_have_css("fill", COMPLETED_FILL)
    expect(shape).to_have_css("stroke-width", "4px")


def test_a_conflict_at_the_bottom_of_a_long_form_is_brought_into_view(page: Page, api) -> None:
    """Submit sits under 49 rows: the 409's notice must not appear out of sight, at the top."""
    view = start_by_api(api)
    page.goto(f"/task/{view['id']}")
    page.locator("#input_directory_0_title").fill("mine")
    other = api.post(
        f"/tasks/{view['id']}/advance",
        json={"step": "directory_confirm", "input": view["required_input"]["prefill"]},
    )
    assert other.status_code == 200, other.text
    submit = confirm_form(page).get_by_role("button", name="Submit")
    submit.scroll_into_view_if_needed()
    submit.click()
    notice = page.get_by_role("heading", name="Someone else answered first")
    expect(notice).to_be_visible()
    expect(notice).to_be_in_viewport()


def test_keyboard_focus_follows_the_outline_row_it_acts_on(page: Page, api) -> None:
    """Move, remove and insert with Enter: the focus stays in the outline, never back at the top."""
    view = start_by_api(api)
    page.goto(f"/task/{view['id']}")
    titles = [page.locator(f"#input_directory_{i}_title") for i in range(4)]
    expect(titles[0]).to_have_value("Changelog")
    second, third = titles[1].input_value(), titles[2].input_value()

    page.get_by_role("button", name="Move item 2 down", exact=True).focus()
    page.keyboard.press("Enter")
    expect(titles[2]).to_have_value(second)
    assert focused_label(page) == "Move item 3 down"
    page.keyboard.press("Enter")
    expect(titles[3]).to_have_value(second)
    assert focused_label(page) == "Move item 4 down"

    page.get_by_role("button", name="Move item 2 up", exact=True).focus()
    page.keyboard.press("Enter")
    expect(titles[0]).to_have_value(third)
    # The first row has no "up": the focus goes to its "down" instead.
    assert focused_label(page) == "Move item 1 down"

    page.get_by_role("button", name="Remove item 1", exact=True).focus()
    page.keyboard.press("Enter")
    expect(titles[0]).to_have_value("Changelog")
    assert focused_label(page) == "Remove item 1"

    page.get_by_role("button", name="Insert an item after item 1", exact=True).focus()
    page.keyboard.press("Enter")
    expect(titles[1]).to_have_value("")
    assert focused_label(page) == "input_directory_1_title"
    page.keyboard.type("typed without a mouse")
    expect(titles[1]).to_have_value("typed without a mouse")


def test_unsent_edits_survive_a_reload_and_back_and_forward(page: Page, api) -> None:
    """Edits to the outline are kept in the tab until they are sent or discarded."""
    view = start_by_api(api)
    page.goto(f"/task/{view['id']}")
    title = page.locator("#input_directory_0_title")
    title.fill("编辑中 (editing)")
    page.get_by_role("button", name="Remove item 2", exact=True).click()
    third = page.locator("#input_directory_1_title").input_value()

    page.reload()
    expect(title).to_have_value("编辑中 (editing)")
    expect(page.locator("#input_directory_1_title")).to_have_value(third)
    expect(confirm_form(page)).to_contain_text("not sent yet")

    page.get_by_role("link", name="Tasks").click()
    page.go_back()
    expect(title).to_have_value("编辑中 (editing)")

    confirm_form(page).get_by_role("button", name="Reset to the prefill").click()
    expect(title).to_have_value("Changelog")
    page.reload()
    expect(title).to_have_value("Changelog")
    expect(confirm_form(page)).not_to_contain_text("not sent yet")
