from collections.abc import Iterable as _Iterable
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from google.protobuf.internal import containers as _containers

DESCRIPTOR: _descriptor.FileDescriptor

class StackAddress(_message.Message):
    __slots__ = ("address", "symbol")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    address: int
    symbol: str
    def __init__(self, address: int | None = ..., symbol: str | None = ...) -> None: ...

class StackTrace(_message.Message):
    __slots__ = ("addresses",)
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    addresses: _containers.RepeatedCompositeFieldContainer[StackAddress]
    def __init__(self, addresses: _Iterable[StackAddress | _Mapping] | None = ...) -> None: ...

class StackTraceLabel(_message.Message):
    __slots__ = ("key", "count")
    KEY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    key: str
    count: int
    def __init__(self, key: str | None = ..., count: int | None = ...) -> None: ...

class StackTraceNode(_message.Message):
    __slots__ = ("address", "count", "labels", "children")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    address: StackAddress
    count: int
    labels: _containers.RepeatedCompositeFieldContainer[StackTraceLabel]
    children: _containers.RepeatedCompositeFieldContainer[StackTraceNode]
    def __init__(
        self,
        address: StackAddress | _Mapping | None = ...,
        count: int | None = ...,
        labels: _Iterable[StackTraceLabel | _Mapping] | None = ...,
        children: _Iterable[StackTraceNode | _Mapping] | None = ...,
    ) -> None: ...
