"""The admin dashboard: charts of sign-ups, deliveries, bounces and complaints over time, and
the mail queue (confirmations) as it stands: how many mails are in each state, how long the
oldest has waited, and the latest that failed or wait for a retry, with their errors."""

from __future__ import annotations

from flask import Blueprint, render_template

from service.model.states import DeliveryState, MailState
from service.model.states import SubscriberStatus as S
from service.model.weeks import week_bounds
from service.publish.charts import BarChart, last_weeks, ordered_names, per_week
from service.store import mail_queue
from service.store.trends import bounces_since, complaints_since, deliveries_by_digest, signups_since
from service.web.admin.auth import current_admin, login_required
from service.web.extensions import current_runtime

blueprint = Blueprint("dashboard", __name__)

WEEKS = 26
DIGESTS = 12
TROUBLE = 20  # failed or retrying mails listed with their errors
# Statuses in the order the sign-ups chart stacks them; any other status found follows.
STATUS_ORDER = (S.ACTIVE, S.PENDING, S.UNSUBSCRIBED, S.BOUNCED, S.COMPLAINED, S.BLOCKED, S.DELETED)


@blueprint.get("/admin/dashboard")
@login_required
def dashboard():
    """Sign-ups per week by status, deliveries per digest by outcome, bounces and complaints."""
    weeks = last_weeks(current_runtime().clock(), WEEKS)
    since, _ = week_bounds(weeks[0])
    with current_runtime().engine.connect() as conn:
        signups = signups_since(conn, since)
        bounces = bounces_since(conn, since)
        complaints = complaints_since(conn, since)
        digests = deliveries_by_digest(conn, DIGESTS)
        queue = mail_queue.state_counts(conn)
        oldest_waiting = mail_queue.oldest_waiting(conn)
        trouble = mail_queue.recent_trouble(conn, TROUBLE)
    statuses = ordered_names((status for _, status in signups), STATUS_ORDER) or [S.ACTIVE]
    outcomes = ordered_names((state for _, counts in digests for state in counts), DeliveryState) or [
        DeliveryState.SENT
    ]
    charts = [
        BarChart(
            id="signups",
            title=f"Sign-ups per week by status now, last {WEEKS} weeks",
            columns=weeks,
            series=per_week(weeks, signups, statuses),
            unit="sign-ups",
        ),
        BarChart(
            id="deliveries",
            title=f"Deliveries per digest by outcome, last {DIGESTS} digests",
            columns=[week for week, _ in digests],
            unit="deliveries",
            column_name="digest",
            series=[(state, [counts.get(state, 0) for _, counts in digests]) for state in outcomes],
        ),
        BarChart(
            id="bounces",
            title=f"Bounces and complaints per week, last {WEEKS} weeks",
            columns=weeks,
            unit="bounces and complaints",
            series=per_week(
                weeks,
                [(at, "bounces") for at in bounces] + [(at, "complaints") for at in complaints],
                ["bounces", "complaints"],
            ),
        ),
    ]
    queue_states = [(state, queue.get(state, 0)) for state in ordered_names({*queue, *MailState}, MailState)]
    return render_template(
        "admin/dashboard.html",
        charts=charts,
        admin=current_admin(),
        queue_states=queue_states,
        oldest_waiting=oldest_waiting,
        trouble=trouble,
    )
