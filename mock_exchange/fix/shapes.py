"""Message shapes: the FIX 4.4 check of a counterparty's usual messages in one regex match.

A counterparty sends the same few layouts again and again (its NewOrderSingles carry the same
tags in the same order). Once a message has passed the full validation
(:mod:`mock_exchange.fix.validation`), its tag sequence becomes a *shape*: one regular
expression over the whole body, each tag a literal and each value the pattern of what its
field accepts (:attr:`~mock_exchange.fix.dictionary.FieldSpec.pattern`). A body a shape
matches is split into its values and is valid by construction: no field list, no dictionary
walk. Anything no shape matches (another layout, a bad value) takes the general path, which
answers it exactly as before.

Only plain layouts become shapes: distinct tags, header then body then trailer, the required
tags present, no repeating group and no length-prefixed data field.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from mock_exchange.fix.codec import BEGIN_STRING, SOH, Field, FixMessage
from mock_exchange.fix.validation import MessageValidator, fix44_validator

MAX_SHAPES = 1024  # compiled layouts kept per validator (the cache starts again beyond)
SHAPES_PER_MSG_TYPE = 4  # layouts of one MsgType a connection tries, the latest first


class Shape:
    """One compiled layout: its tags, where each is, and the matcher of a whole body of it."""

    __slots__ = ("match", "positions", "tags")

    def __init__(self, tags: tuple[int, ...], pattern: bytes) -> None:
        self.tags = tags
        self.positions = {tag: position for position, tag in enumerate(tags)}
        self.match: Callable[[bytes], re.Match[bytes] | None] = re.compile(pattern).fullmatch


class ShapedMessage(FixMessage):
    """A FIX.4.4 message a shape matched: valid, its values by position in the shape.

    The field list and the index are made only when asked for (the hot path only ``get``s).
    """

    __slots__ = ("_shape", "_values")

    def __init__(self, shape: Shape, values: tuple[bytes, ...]) -> None:
        # not the base's: its field list and index are what this class does without
        self._shape = shape
        self._values = values
        self.begin_string = BEGIN_STRING
        self.msg_type = values[0]
        self.prevalidated = True

    @property
    def fields(self) -> list[Field]:
        return list(zip(self._shape.tags, self._values, strict=True))

    def get(self, tag: int, default: bytes | None = None) -> bytes | None:
        position = self._shape.positions.get(tag)
        return default if position is None else self._values[position]

    @property
    def index(self) -> dict[int, bytes]:
        return dict(zip(self._shape.tags, self._values, strict=True))


class ShapeCompiler:
    """Compiles (and keeps) the shape of each plain layout of a dictionary's messages.

    A layout is compiled the second time it is seen: a counterparty that never repeats one
    (every message laid out differently) costs a set entry per message, not a compilation.
    """

    def __init__(self, validator: MessageValidator) -> None:
        self._validator = validator
        self._shapes: dict[tuple[bytes, tuple[int, ...]], Shape | None] = {}
        self._seen_once: set[tuple[bytes, tuple[int, ...]]] = set()

    def shape(self, tags: tuple[int, ...], msg_type: bytes) -> Shape | None:
        """The shape of messages of ``tags`` (MsgType first); ``None`` when the layout is not plain
        (or seen for the first time)."""
        key = (msg_type, tags)
        try:
            return self._shapes[key]
        except KeyError:
            pass
        if key not in self._seen_once:
            if len(self._seen_once) >= MAX_SHAPES:
                self._seen_once.clear()
            self._seen_once.add(key)
            return None
        shape = self._compile(tags, msg_type)
        if len(self._shapes) >= MAX_SHAPES:
            self._shapes.clear()
        self._shapes[key] = shape
        return shape

    def _compile(self, tags: tuple[int, ...], msg_type: bytes) -> Shape | None:
        layout = self._validator.plain_layout(msg_type)
        if layout is None or tags[0] != 35 or not layout.holds(tags):
            return None
        fields = self._validator.dictionary.fields
        parts = [b"35=(%s)\x01" % re.escape(msg_type)]
        for tag in tags[1:]:
            spec = fields.get(tag)
            if spec is None or spec.pattern is None:
                return None
            parts.append(b"%d=(%s)\x01" % (tag, spec.pattern))
        return Shape(tags, b"".join(parts))


@functools.cache
def fix44_shapes() -> ShapeCompiler:
    """The shape compiler of FIX 4.4 (one per process, built on first use)."""
    return ShapeCompiler(fix44_validator())


class MessageShapes:
    """The shapes of one counterparty's recent valid messages, by MsgType."""

    __slots__ = ("_compiler", "_recent")

    def __init__(self, compiler: ShapeCompiler | None = None) -> None:
        self._compiler = compiler if compiler is not None else fix44_shapes()
        self._recent: dict[bytes, list[Shape]] = {}

    def parse(self, body: bytes) -> FixMessage | None:
        """``body`` (a FIX.4.4 message's, MsgType first) as a valid message, if a shape matches it."""
        shapes = self._recent.get(body[3 : body.find(SOH)])
        if shapes is not None:
            for shape in shapes:
                match = shape.match(body)
                if match is not None:
                    return ShapedMessage(shape, match.groups())
        return None

    def learn(self, message: FixMessage) -> None:
        """Remember the shape of a FIX.4.4 ``message`` that passed the full validation."""
        if message.prevalidated:
            return
        msg_type = message.msg_type
        shape = self._compiler.shape(tuple(tag for tag, _ in message.fields), msg_type)
        if shape is None:
            return
        shapes = self._recent.setdefault(msg_type, [])
        if shape not in shapes:
            shapes.insert(0, shape)
            del shapes[SHAPES_PER_MSG_TYPE:]
