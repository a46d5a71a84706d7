"""EF.CardAccess (file 011C): the SecurityInfos that tell a terminal which PACE variants a chip
offers (ICAO 9303-11 section 9.2, BSI TR-03110-3 appendix A.1).

    SecurityInfos ::= SET OF SecurityInfo
    SecurityInfo  ::= SEQUENCE { protocol OID, requiredData ANY, optionalData ANY OPTIONAL }
    PACEInfo      ::= SEQUENCE { protocol id-PACE-*, version INTEGER, parameterId INTEGER OPT }
    PACEDomainParameterInfo ::= SEQUENCE { protocol id-PACE-{DH,ECDH}-*,
                                           domainParameter AlgorithmIdentifier,
                                           parameterId INTEGER OPTIONAL }

`CardAccess.parse(data)` reads the file with the chip area's BER-TLV parser; SecurityInfos it
does not know (Chip Authentication, Terminal Authentication, ...) are kept raw in ``other``.
Every malformed input raises `CardAccessError` (an `LdsError`) naming the byte offset.
`encode()` writes the file back (the card emulator serves it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from station.icao import crypto, ec
from station.icao.errors import AccessError, LdsError
from station.icao.tlv import Tlv, TlvError, parse_one, tlv

ID_PACE = "0.4.0.127.0.7.2.2.4"
_KEY_AGREEMENT = {1: "DH", 2: "ECDH", 3: "DH", 4: "ECDH", 6: "ECDH"}
_MAPPING = {1: "GM", 2: "GM", 3: "IM", 4: "IM", 6: "CAM"}
_CIPHERS: dict[int, crypto.CipherName] = {1: "3DES", 2: "AES-128", 3: "AES-192", 4: "AES-256"}
_FILE = "EF.CardAccess"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
PRIME_FIELD = "1.2.840.10045.1.1"
DH_PUBLIC_NUMBER = "1.2.840.10046.2.1"
STANDARDIZED = "0.4.0.127.0.7.1.2"  # standardizedDomainParameters: parameters = INTEGER id


class CardAccessError(LdsError, AccessError):
    """EF.CardAccess is malformed (or names domain parameters the station cannot use). Also an
    AccessError: the access step treats it as "PACE not possible" and can fall back to BAC."""

    def __init__(self, offset: int, detail: str) -> None:
        super().__init__(_FILE, offset, detail)
        self.problem = detail


def oid_decode(value: bytes) -> str:
    """DER OBJECT IDENTIFIER contents -> dotted string; ValueError if malformed."""
    if not value or value[-1] & 0x80:
        raise ValueError("OID truncated")
    arcs: list[int] = []
    current = 0
    for byte in value:
        if current == 0 and byte == 0x80:
            raise ValueError("OID arc with a leading 0x80")
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def oid_encode(dotted: str) -> bytes:
    """Dotted string -> DER OBJECT IDENTIFIER contents (without tag and length)."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


def pace_protocol(key_agreement: str, cipher: crypto.CipherName, mapping: str = "GM") -> str:
    """The id-PACE-<ka>-<mapping>-<cipher> OID, e.g. ("ECDH", "AES-128") -> ...4.2.2."""
    ka_id = next(
        k for k, v in _KEY_AGREEMENT.items() if v == key_agreement and _MAPPING[k] == mapping
    )
    cipher_id = next(k for k, v in _CIPHERS.items() if v == cipher)
    return f"{ID_PACE}.{ka_id}.{cipher_id}"


@dataclass(frozen=True)
class PaceInfo:
    protocol: str
    version: int
    parameter_id: int | None

    @property
    def _arcs(self) -> tuple[int, int]:
        tail = self.protocol[len(ID_PACE) + 1 :].split(".")
        return int(tail[0]), int(tail[1])

    @property
    def key_agreement(self) -> str:
        return _KEY_AGREEMENT.get(self._arcs[0], "?")

    @property
    def mapping(self) -> str:
        return _MAPPING.get(self._arcs[0], "?")

    @property
    def cipher(self) -> crypto.CipherName | None:
        return _CIPHERS.get(self._arcs[1])

    @property
    def protocol_problem(self) -> str | None:
        """None when the station implements this protocol and version, else why not."""
        if self.mapping != "GM" or self.cipher is None:
            return f"protocol {self.protocol} (only Generic Mapping is implemented)"
        if self.version != 2:
            return f"PACE version {self.version}"
        return None

    def encode(self) -> bytes:
        body = tlv(0x06, oid_encode(self.protocol)) + _der_int(self.version)
        if self.parameter_id is not None:
            body += _der_int(self.parameter_id)
        return tlv(0x30, body)


@dataclass(frozen=True)
class PaceDomainParameterInfo:
    protocol: str
    algorithm: str  # the domainParameter AlgorithmIdentifier's OID
    parameters: bytes  # the AlgorithmIdentifier's parameters, raw DER ('' if absent)
    parameter_id: int | None

    @classmethod
    def explicit(
        cls, domain: ec.Curve | ec.ModpGroup, parameter_id: int
    ) -> PaceDomainParameterInfo:
        """Domain parameters spelled out (ECParameters / DH DomainParameters), as a chip with
        proprietary parameters (ids 32-127) would store them."""
        if isinstance(domain, ec.Curve):
            size = domain.size
            body = (
                _der_int(1)
                + tlv(0x30, tlv(0x06, oid_encode(PRIME_FIELD)) + _der_int(domain.p))
                + tlv(
                    0x30,
                    tlv(0x04, domain.a.to_bytes(size, "big"))
                    + tlv(0x04, domain.b.to_bytes(size, "big")),
                )
                + tlv(0x04, ec.encode_point(domain, domain.generator))
                + _der_int(domain.n)
                + _der_int(1)
            )
            return cls(f"{ID_PACE}.2", EC_PUBLIC_KEY, tlv(0x30, body), parameter_id)
        body = _der_int(domain.p) + _der_int(domain.g) + _der_int(domain.q)
        return cls(f"{ID_PACE}.1", DH_PUBLIC_NUMBER, tlv(0x30, body), parameter_id)

    def domain(self) -> ec.Curve | ec.ModpGroup:
        """Parse and check the parameters; CardAccessError when unusable."""
        try:
            if self.algorithm == STANDARDIZED:
                return ec.standard_domain(_int(parse_one(self.parameters)))
            fields = parse_one(self.parameters).children()
            if self.algorithm == EC_PUBLIC_KEY:
                return _checked_curve(fields)
            if self.algorithm == DH_PUBLIC_NUMBER and len(fields) >= 3:
                group = ec.ModpGroup("explicit", _int(fields[0]), _int(fields[1]), _int(fields[2]))
                if (group.p - 1) % group.q or not group.contains(group.g):
                    raise ec.EcError("g does not generate a subgroup of order q")
                return group
        except (TlvError, ec.EcError, ValueError) as exc:
            raise CardAccessError(0, f"domain parameters {self.parameter_id}: {exc}") from None
        raise CardAccessError(
            0, f"domain parameters {self.parameter_id}: {self.algorithm} unsupported"
        )

    def encode(self) -> bytes:
        algorithm = tlv(0x30, tlv(0x06, oid_encode(self.algorithm)) + self.parameters)
        body = tlv(0x06, oid_encode(self.protocol)) + algorithm
        if self.parameter_id is not None:
            body += _der_int(self.parameter_id)
        return tlv(0x30, body)


@dataclass(frozen=True)
class SecurityInfo:
    """A SecurityInfo this module does not interpret, kept as its DER bytes."""

    protocol: str
    raw: bytes


@dataclass(frozen=True)
class CardAccess:
    pace_infos: tuple[PaceInfo, ...]
    domain_parameter_infos: tuple[PaceDomainParameterInfo, ...] = ()
    other: tuple[SecurityInfo, ...] = ()

    @classmethod
    def parse(cls, data: bytes) -> CardAccess:
        try:
            top = parse_one(data)
            if top.tag != 0x31:
                raise CardAccessError(0, f"expected SET (31), found tag {top.tag:X}")
            if top.end != len(data):
                raise CardAccessError(top.end, "trailing bytes after SecurityInfos")
            pace, params, other = [], [], []
            for item in top.children():
                info = _parse_info(item)
                if isinstance(info, PaceInfo):
                    pace.append(info)
                elif isinstance(info, PaceDomainParameterInfo):
                    params.append(info)
                else:
                    other.append(info)
        except TlvError as exc:
            raise CardAccessError(exc.offset, str(exc)) from None
        return cls(tuple(pace), tuple(params), tuple(other))

    def domain(self, info: PaceInfo) -> ec.Curve | ec.ModpGroup:
        """The domain parameters ``info`` uses: its PACEDomainParameterInfo when the file has
        one for its parameterId, else the standardized ones; CardAccessError if neither."""
        pid = info.parameter_id
        if pid is not None and not 0 <= pid <= 127:
            raise CardAccessError(0, f"parameterId {pid} out of range")
        explicit = [d for d in self.domain_parameter_infos if d.parameter_id == pid]
        if explicit:
            return explicit[0].domain()
        if pid is None:
            raise CardAccessError(0, "PACEInfo without parameterId")
        try:
            return ec.standard_domain(pid)
        except ec.EcError:
            raise CardAccessError(0, f"parameterId {pid} is not a standardized one") from None

    def unsupported_reason(self, info: PaceInfo) -> str | None:
        """None when the station can run this PACE variant, else why not."""
        if info.protocol_problem is not None:
            return info.protocol_problem
        try:
            domain = self.domain(info)
        except CardAccessError as exc:
            return exc.problem
        if isinstance(domain, ec.Curve) != (info.key_agreement == "ECDH"):
            return f"parameterId {info.parameter_id} does not fit {info.key_agreement}"
        return None

    def supported_pace(self) -> tuple[PaceInfo, ...]:
        """PACE variants the station can run, ECDH before DH, otherwise in the card's order."""
        usable = [info for info in self.pace_infos if self.unsupported_reason(info) is None]
        return tuple(sorted(usable, key=lambda info: info.key_agreement != "ECDH"))

    def encode(self) -> bytes:
        parts = [info.encode() for info in self.pace_infos]
        parts += [info.encode() for info in self.domain_parameter_infos]
        parts += [info.raw for info in self.other]
        return tlv(0x31, b"".join(parts))


def _checked_curve(fields: list[Tlv]) -> ec.Curve:
    """ECParameters (explicit, prime field, cofactor 1) -> a checked Curve; the standard curve
    object when the values are a standard curve's (OpenSSL can then do the ECDH)."""
    if len(fields) < 5 or fields[1].tag != 0x30 or fields[2].tag != 0x30:
        raise ValueError("ECParameters incomplete")
    field_id, curve_ab = fields[1].children(), fields[2].children()
    if len(field_id) != 2 or oid_decode(field_id[0].value) != PRIME_FIELD or len(curve_ab) < 2:
        raise ValueError("not a prime-field curve")
    if len(fields) > 5 and _int(fields[5]) != 1:
        raise ValueError("cofactor is not 1")
    p = _int(field_id[1])
    a, b = (int.from_bytes(x.value, "big") for x in curve_ab[:2])
    shell = ec.Curve("explicit", p, a, b, 0, 0, _int(fields[4]))
    gx, gy = ec.decode_point(shell, fields[3].value)
    curve = ec.Curve("explicit", p, a, b, gx, gy, shell.n)
    for pid in ec.standard_ids():
        known = ec.standard_domain(pid)
        if isinstance(known, ec.Curve) and dataclasses.replace(known, name="explicit") == curve:
            return known
    if pow(2, p - 1, p) != 1 or pow(3, curve.n - 1, curve.n) != 1:
        raise ValueError("p or the order is not prime")
    try:
        ec.scalar_mult(curve, curve.n, curve.generator)
    except ec.EcError:
        return curve  # n*G is the point at infinity, as it must be
    raise ValueError("the order does not annihilate the generator")


def _der_int(value: int) -> bytes:
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _int(item: Tlv) -> int:
    if item.tag != 0x02 or not item.value:
        raise CardAccessError(item.offset, f"expected INTEGER, found tag {item.tag:X}")
    return int.from_bytes(item.value, "big", signed=True)


def _parse_info(item: Tlv) -> PaceInfo | PaceDomainParameterInfo | SecurityInfo:
    if item.tag != 0x30:
        raise CardAccessError(item.offset, f"SecurityInfo is tag {item.tag:X}, not SEQUENCE")
    fields = item.children()
    if len(fields) < 2 or fields[0].tag != 0x06:
        raise CardAccessError(item.offset, "SecurityInfo without protocol OID and data")
    try:
        protocol = oid_decode(fields[0].value)
    except ValueError as exc:
        raise CardAccessError(fields[0].offset, str(exc)) from None
    arcs = protocol[len(ID_PACE) + 1 :].split(".") if protocol.startswith(ID_PACE + ".") else []
    if len(arcs) == 2 and len(fields) <= 3:
        parameter_id = _int(fields[2]) if len(fields) == 3 else None
        return PaceInfo(protocol, _int(fields[1]), parameter_id)
    if len(arcs) == 1 and len(fields) <= 3:
        return _domain_parameters(protocol, fields)
    return SecurityInfo(protocol, _raw(item))


def _domain_parameters(protocol: str, fields: list[Tlv]) -> PaceDomainParameterInfo:
    algorithm = fields[1]
    inner = algorithm.children() if algorithm.tag == 0x30 else []
    if not inner or inner[0].tag != 0x06:
        raise CardAccessError(algorithm.offset, "domainParameter is not an AlgorithmIdentifier")
    try:
        algorithm_oid = oid_decode(inner[0].value)
    except ValueError as exc:
        raise CardAccessError(inner[0].offset, str(exc)) from None
    parameters = b"".join(_raw(part) for part in inner[1:])
    parameter_id = _int(fields[2]) if len(fields) == 3 else None
    return PaceDomainParameterInfo(protocol, algorithm_oid, parameters, parameter_id)


def _raw(item: Tlv) -> bytes:
    return tlv(item.tag, item.value)
