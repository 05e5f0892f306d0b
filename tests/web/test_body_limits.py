"""Request bodies are bounded per route: a CSV over the admin import's 5 MB is refused with its
size in the message (and the command line named for it), a form over 64 KB is refused, and
a CSV under the bound is read."""

from __future__ import annotations

import io

from lxml import html

from tests.support.forms import csrf_token, sign_in


def test_a_csv_over_the_admin_imports_bound_is_refused_with_its_size(client, admin):
    sign_in(client)
    token = csrf_token(client.get("/admin/import").data)
    big = b"email,topics,status\n" + b"someone@example.org,vla,active\n" * 200_000  # 6,200,020 bytes
    answer = client.post(
        "/admin/import",
        data={"csrf_token": token, "file": (io.BytesIO(big), "list.csv")},
        content_type="multipart/form-data",
    )
    text = html.fromstring(answer.data).text_content()
    assert answer.status_code == 413
    assert "This request is 5.9 MB; this page accepts at most 5.0 MB." in text  # MB of 2**20 bytes
    assert "paperboy subscribers import FILE.csv" in text


def test_a_form_over_64_kb_is_refused_and_a_small_csv_is_read(client, admin):
    answer = client.post("/subscribe", data={"email": "x" * 70_000})
    assert answer.status_code == 413
    assert "this page accepts at most 64 KB" in html.fromstring(answer.data).text_content()
    sign_in(client)
    token = csrf_token(client.get("/admin/import").data)
    small = b"email,topics,status\n" + b"someone@example.org,vla,active\n" * 3000  # 93 KB: over the form bound
    preview = client.post(
        "/admin/import",
        data={"csrf_token": token, "file": (io.BytesIO(small), "list.csv")},
        content_type="multipart/form-data",
    )
    assert preview.status_code != 413
