// A confirmation dialog for operator actions (a real <dialog>: focus is trapped and Escape
// closes it), with an optional reason that goes into the event log.

import { useEffect, useRef, useState } from "react";

export interface Ask {
  title: string;
  message: string;
  confirm: string;
  reason?: boolean;
  danger?: boolean;
  run: (reason: string | null) => Promise<void>;
}

export function ConfirmDialog({ ask, onClose }: { ask: Ask | null; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => {
    if (ask) {
      setReason("");
      setFailure(null);
      dialog.current?.showModal();
    } else dialog.current?.close();
  }, [ask]);

  async function go() {
    if (!ask) return;
    setBusy(true);
    setFailure(null);
    try {
      await ask.run(reason.trim() || null);
      onClose();
    } catch (err) {
      setFailure(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <dialog ref={dialog} className="confirm" onClose={onClose} aria-labelledby="confirm-title">
      {ask && (
        <form method="dialog" onSubmit={(e) => { e.preventDefault(); void go(); }}>
          <h2 id="confirm-title">{ask.title}</h2>
          <p>{ask.message}</p>
          {ask.reason && (
            <label className="block">Reason (recorded in the event log, optional)
              <input value={reason} onChange={(e) => setReason(e.target.value)} autoFocus />
            </label>
          )}
          {failure && <p className="error" role="alert">{failure}</p>}
          <div className="buttons">
            <button type="button" onClick={onClose}>Back</button>
            <button type="submit" className={ask.danger ? "danger" : "primary"} disabled={busy}>{ask.confirm}</button>
          </div>
        </form>
      )}
    </dialog>
  );
}
