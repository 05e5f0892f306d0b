"""Helpers for driving paperboy's forms with Flask's test client: CSRF tokens, the subscribe form
and admin sign-in."""

from __future__ import annotations

import re
import threading

from werkzeug.security import generate_password_hash

from service.outbound.notices import send_notices
from service.store.subscribers import admins
from tests.conftest import NOW

PASSWORD = "correct horse battery"


def csrf_token(html: bytes) -> str:
    """The CSRF token of the first form in `html`."""
    return re.search(rb'name="csrf_token" value="([^"]+)"', html).group(1).decode()


def subscribe(client, email, topics=("vla",)):
    """Send the public subscribe form as a browser would."""
    token = csrf_token(client.get("/subscribe").data)
    return client.post("/subscribe", data={"csrf_token": token, "email": email, "topics": list(topics)})


def create_admin(engine, email: str = "admin@example.org"):
    with engine.begin() as conn:
        return admins.create_admin(conn, email, generate_password_hash(PASSWORD), NOW)


def sign_in(client, email: str = "admin@example.org", password: str = PASSWORD, next_url: str = ""):
    """Post the sign-in form as a browser would, with the token from the form page."""
    token = csrf_token(client.get("/admin/sign-in").data)
    return client.post(
        "/admin/sign-in", data={"csrf_token": token, "email": email, "password": password, "next": next_url}
    )


def mailed_admin_link(app, smtp_server) -> str:
    """Send what the mail queue holds, as the scheduler does (in a thread of its own: a browser
    test's event loop runs in this one); the path of the password link in the last mail."""
    sender = threading.Thread(target=send_notices, args=(app.extensions["paperboy"],))
    sender.start()
    sender.join()
    body = smtp_server.messages[-1].get_body(("plain",)).get_content()
    return re.search(r"http://paperboy\.test(/admin/password/\S+)", body).group(1)
