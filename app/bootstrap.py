"""The composition root: wires settings, database, Redis, services and transports into one aiohttp app.

Services are built in app/services.py, started and stopped by app/lifecycles.py, and the
scheduler's jobs are registered in app/jobs.py."""

from __future__ import annotations

from aiohttp import web

from agent_console import figures_http, routing_http
from agent_console import http as console_http
from app import api_docs, lifecycles, metrics
from app.jobs import register_jobs
from app.services import ConfigError, Services, build_services, origin_policy
from callback import http as callback_http
from cases import http as cases_http
from chat import desk_http
from chat import http as chat_http
from contact import access_http, hours_http
from contact import http as contact_http
from contact.clock import Clock, SystemClock
from contact.logs import quiet_protocol_errors
from contact.settings import Settings
from contact.web import errors_middleware, no_store, passes_websockets, security_headers
from web_widget import http as widget_http

__all__ = ["ConfigError", "create_app", "origin_policy"]


def create_app(settings: Settings, clock: Clock | None = None) -> web.Application:
    services = build_services(settings, clock or SystemClock())
    register_jobs(services)
    app = web.Application(
        middlewares=[
            passes_websockets(metrics.count_unavailable),
            passes_websockets(security_headers(settings.origins)),
            errors_middleware,
        ],
        client_max_size=settings.max_http_buffer_size,
    )
    app.on_response_prepare.append(no_store)
    quiet_protocol_errors()
    services.sio.attach(app)
    put_resources(app, services)
    app.cleanup_ctx.extend(lifecycles.lifecycles(app))
    app.add_routes(contact_http.routes())
    app.add_routes(access_http.routes())
    app.add_routes(chat_http.routes())
    app.add_routes(callback_http.routes())
    app.add_routes(cases_http.routes())
    app.add_routes(routing_http.routes())
    app.add_routes(widget_http.routes())
    app.add_routes(console_http.routes())
    app.add_routes(api_docs.routes())
    app.add_routes(desk_http.routes())
    app.add_routes(hours_http.routes())
    app.add_routes(figures_http.routes())
    metrics.install(app, services)
    return app


def put_resources(app: web.Application, services: Services) -> None:
    """Every part the handlers and lifecycles reach, under its typed key."""
    app[contact_http.SETTINGS] = services.settings
    app[contact_http.DATABASE] = services.db
    app[contact_http.READINESS] = services.readiness
    app[contact_http.AGENTS] = services.agents
    app[contact_http.ACCESS_LOG] = services.access_log
    app[contact_http.LIMITER] = services.limiter
    app[contact_http.PRESENCE] = services.presence
    app[chat_http.CHAT] = services.chat
    app[hours_http.HOURS] = services.hours
    app[chat_http.DISPATCHER] = services.dispatcher
    app[callback_http.CALLBACKS] = services.callbacks
    app[callback_http.SEND] = services.dispatcher.send
    app[cases_http.CASES] = services.register
    app[routing_http.RULES] = services.rules
    app[figures_http.FIGURES] = services.figures
    app[lifecycles.SIO] = services.sio
    app[lifecycles.WRITER] = services.writer
    app[lifecycles.JOBS] = services.jobs
    app[lifecycles.KEYS] = services.keys
    app[lifecycles.VISITORS] = services.visitors
    app[lifecycles.AGENT_SOCKETS] = services.agent_sockets
    app[desk_http.READY_TEXTS] = services.ready_texts
    app[desk_http.BLOCKS] = services.blocks
    if services.redis is not None:
        app[lifecycles.REDIS] = services.redis
    if services.fanout is not None:
        app[lifecycles.FANOUT] = services.fanout
    if services.delivery is not None:
        app[lifecycles.DELIVERY] = services.delivery
