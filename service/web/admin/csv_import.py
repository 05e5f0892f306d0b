"""Admin CSV import (upload, preview with per-row errors, then one all-or-nothing write) and export.

The uploaded file waits for the admin's go-ahead in a private folder under the system's
temporary directory, named by a random id that only the preview page knows.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import stat
import tempfile
import time
from pathlib import Path

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from service.errors import PaperboyError
from service.store import write_transaction
from service.store.subscribers.imports import export_rows
from service.web.admin.auth import current_admin, login_required, signed_in_admin
from service.web.extensions import current_runtime
from subscribers import csv_io
from subscribers.imports import ImportResult, import_rows

blueprint = Blueprint("admin_csv", __name__, url_prefix="/admin")

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
UPLOAD_MAX_AGE = 24 * 3600
PREVIEW_ROWS = 20


class UploadFolderError(PaperboyError):
    """The folder for uploads is not private to paperboy; the message names it."""


def _uploads() -> Path:
    folder = Path(tempfile.gettempdir()) / f"paperboy-imports-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    # Another local user could have made the folder first, to read subscriber lists or to swap
    # an upload between its preview and its import.
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise UploadFolderError(
            f"admin: the upload folder {folder} is not private to this user "
            "(it must be a directory with mode 700); remove it and try again"
        )
    return folder


def _forget_old_uploads(folder: Path) -> None:
    cutoff = time.time() - UPLOAD_MAX_AGE
    for path in folder.glob("*.csv"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


@blueprint.get("/import")
@login_required
def import_form():
    return render_template("admin/import.html", admin=current_admin())


@blueprint.post("/import")
@login_required
def import_preview():
    runtime = current_runtime()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Choose a CSV file to import.", "error")
        return redirect(url_for("admin_csv.import_form"))
    data = upload.read()
    try:
        parsed = csv_io.parse(data, list(runtime.topic_slugs))
    except csv_io.CsvError as error:
        return render_template("admin/import.html", admin=current_admin(), file_error=str(error)), 400
    upload_id = None
    if parsed.ok and parsed.rows:
        try:
            folder = _uploads()
        except UploadFolderError as error:
            return render_template("admin/import.html", admin=current_admin(), file_error=str(error)), 500
        _forget_old_uploads(folder)
        upload_id = secrets.token_hex(16)
        (folder / f"{upload_id}.csv").write_bytes(data)
    return render_template(
        "admin/import_preview.html",
        admin=current_admin(),
        parsed=parsed,
        preview=parsed.rows[:PREVIEW_ROWS],
        upload_id=upload_id,
        filename=upload.filename,
    ), 200 if parsed.ok else 400


@blueprint.post("/import/<upload_id>")
@login_required
def import_commit(upload_id: str):
    runtime = current_runtime()
    try:
        folder = _uploads()
    except UploadFolderError as error:
        flash(str(error), "error")
        return redirect(url_for("admin_csv.import_form"))
    path = folder / f"{upload_id}.csv" if UPLOAD_ID.match(upload_id) else None
    if path is None or not path.is_file():
        flash("That upload is gone (imported already, or older than a day). Upload the file again.", "error")
        return redirect(url_for("admin_csv.import_form"))
    try:
        parsed = csv_io.parse(path.read_bytes(), list(runtime.topic_slugs))
    except csv_io.CsvError as error:
        flash(str(error), "error")
        return redirect(url_for("admin_csv.import_form"))
    if not parsed.ok:
        flash(f"The file has {parsed.error_count} bad rows; nothing was imported.", "error")
        return redirect(url_for("admin_csv.import_form"))
    with write_transaction(runtime.engine) as conn:
        result = import_rows(conn, parsed.rows, current_runtime().clock(), signed_in_admin().email)
    path.unlink(missing_ok=True)
    flash(
        f"Imported {len(parsed.rows)} rows: {result.created} new, {result.updated} updated, "
        f"{result.unchanged} unchanged." + _kept_note(result),
        "ok",
    )
    return redirect(url_for("admin.subscribers"))


def _kept_note(result: ImportResult) -> str:
    if not result.kept:
        return ""
    return (
        f" {result.kept} addresses that unsubscribed or are blocked kept that status: "
        "an import never subscribes them again."
    )


@blueprint.get("/export.csv")
@login_required
def export():
    runtime = current_runtime()
    out = io.StringIO()
    with runtime.engine.connect() as conn:
        csv_io.write(export_rows(conn), out)
    stamp = current_runtime().clock().strftime("%Y%m%d-%H%M%S")
    return Response(
        out.getvalue().encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="paperboy-subscribers-{stamp}.csv"'},
    )
