"""The scheduler's jobs, all registered here. They run on the elected process only
(contact/scheduler.py); what a job returns to send goes out through this process's dispatcher."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from app.services import Services

log = structlog.get_logger(__name__)


def register_jobs(services: Services) -> None:
    settings, dispatcher, jobs = services.settings, services.dispatcher, services.jobs
    crisis, chat, push = services.crisis, services.chat, services.push
    callbacks, mailer, register = services.callbacks, services.mailer, services.register

    async def realert_crises() -> None:
        await dispatcher.send(await crisis.realert())

    async def overdue_outcomes() -> None:
        await dispatcher.send(await chat.close_overdue_outcomes())

    async def push_offers() -> None:
        await dispatcher.send(await push.offer_due())

    async def callback_jobs() -> None:
        # Each step on its own: a failing one (a mail server down) must not hold up the others.
        steps: dict[str, Callable[[], Awaitable[object]]] = {
            "tijdvak_notices": callbacks.tijdvak_notices,
            "overdue": callbacks.flag_overdue,
            "reminders": callbacks.queue_reminders,
            "mail": mailer.deliver_due,
            "retention": register.purge_due,
        }
        for name, step in steps.items():
            try:
                done = await step()
                if isinstance(done, list):
                    await dispatcher.send(done)
            except Exception as exc:
                log.error("job_step_failed", step=name, error=type(exc).__name__)

    async def access_log_retention() -> None:
        try:
            purged = await services.access_log.purge(settings.access_log_retention_days)
            if purged:
                log.info("access_log_purged", entries=purged)
        except Exception as exc:
            log.error("job_step_failed", step="access_log_retention", error=type(exc).__name__)

    jobs.every("crisis_realert", settings.crisis_check_s, realert_crises)
    # Hourly is plenty for a retention counted in years; each run deletes only what is due.
    jobs.every("access_log_retention", 3600, access_log_retention)
    jobs.every("callbacks", settings.callback_check_s, callback_jobs)
    jobs.every("outcomes", settings.outcome_check_s, overdue_outcomes)
    if push.teams:
        jobs.every("push_offers", settings.push_check_s, push_offers)

    async def seal_figures() -> None:
        try:
            await services.figures.seal_due()
        except Exception as exc:
            log.error("job_step_failed", step="figures", error=type(exc).__name__)

    # The purge seals first too; this keeps days sealed when there is nothing to purge.
    jobs.every("figures", 600, seal_figures)
