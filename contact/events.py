"""The shape machinery of server→client Socket.IO events: every event a client may receive is
one pydantic model (a `ServerEvent`) with its name and namespace, registered in `REGISTRY`, and
sent only through its constructor `to(target)`, which gives the `Emit` a use case returns.

The models of each package live beside it (`chat/outbound.py`, `callback/outbound.py`); the
kernel only knows their common form. The wire format is the model dumped as JSON: field order
is key order, and a field named in `optional_keys` is on the wire only when it was given (the
protocol's optional keys: `name`?, `outcome`?, `left_at`?, ...), so absent stays absent and a
given None stays `null`."""

from __future__ import annotations

import json
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, SerializationInfo, SerializerFunctionWrapHandler, model_serializer

from contact.emits import Emit, Target, ToVisitor

VISITOR_NS = "/visitor"
AGENT_NS = "/agent"


class Shape(BaseModel):
    """A part of an outbound event: no field beyond the declared ones; the keys listed in
    `optional_keys` are left out of the wire form unless they were given."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    optional_keys: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in self.optional_keys - self.model_fields_set:
            data.pop(key, None)
        return data

    def wire(self) -> dict[str, Any]:
        """The payload as it goes over the wire."""
        return self.model_dump(mode="json", by_alias=True)


class ServerEvent(Shape):
    """One server→client event: `event` is its name on the wire, `namespace` where it goes."""

    event: ClassVar[str]
    namespace: ClassVar[str]

    def to(self, target: Target) -> Emit:
        """The only way to send it: an `Emit` for the dispatcher, checked against the namespace."""
        namespace = VISITOR_NS if isinstance(target, ToVisitor) else AGENT_NS
        if namespace != self.namespace:
            raise ValueError(f"{type(self).__name__} goes to {self.namespace}, not {namespace}")
        return Emit(target, self.event, self.wire())

    @classmethod
    def trusted(cls, data: dict[str, Any], target: Target) -> Emit:
        """For the events of every chat message only: `data` as the wire form (in the model's
        key order) without validating and dumping it again, which was a tenth of the server's
        work per message. Only for values the server made itself and already checked; the
        tests check every emitted payload against the model (`check_emitted`)."""
        namespace = VISITOR_NS if isinstance(target, ToVisitor) else AGENT_NS
        if namespace != cls.namespace:
            raise ValueError(f"{cls.__name__} goes to {cls.namespace}, not {namespace}")
        wire = {key: data[key] for key in cls.model_fields if key in data}
        if len(wire) != len(data):
            raise ValueError(f"{cls.__name__} has no field {sorted(set(data) - set(wire))}")
        return Emit(target, cls.event, wire)


# (namespace, event name) → its model: what the AsyncAPI document and the tests read.
REGISTRY: dict[tuple[str, str], type[ServerEvent]] = {}


E = TypeVar("E", bound=type[ServerEvent])


def server_event(cls: E) -> E:
    """Class decorator: registers the event; one model per name and namespace."""
    key = (cls.namespace, cls.event)
    if key in REGISTRY and REGISTRY[key] is not cls:
        raise ValueError(f"two models for {key}")
    REGISTRY[key] = cls
    return cls


def check_emitted(namespace: str, event: str, data: Any) -> str | None:
    """Why an emitted payload does not match its definition, or None when it does: the event is
    registered, the payload validates, and dumping it again gives the same bytes (no key more,
    none less, the same order)."""
    model = REGISTRY.get((namespace, event))
    if model is None:
        return f"{namespace} {event!r}: no ServerEvent model is registered for it"
    try:
        parsed = model.model_validate(data)
    except Exception as exc:
        return f"{namespace} {event!r}: payload does not match {model.__name__}: {exc}"
    again = parsed.wire()
    if json.dumps(again) != json.dumps(data):
        return f"{namespace} {event!r}: {model.__name__} gives {again!r}, emitted {data!r}"
    return None
