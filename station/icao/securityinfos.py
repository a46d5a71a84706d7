"""SecurityInfos (ICAO 9303-11 section 9.2, BSI TR-03110-3 appendix A.1), on asn1crypto: the one
parser of EF.CardAccess (the PACE variants a chip offers) and DG14 (the Chip Authentication keys
and protocols, the Active Authentication signature algorithm).

    SecurityInfos ::= SET OF SecurityInfo
    SecurityInfo  ::= SEQUENCE { protocol OID, requiredData ANY, optionalData ANY OPTIONAL }
    PACEInfo      ::= SEQUENCE { protocol id-PACE-*, version INTEGER, parameterId INTEGER OPT }
    PACEDomainParameterInfo ::= SEQUENCE { protocol id-PACE-{DH,ECDH}-*,
                                           domainParameter AlgorithmIdentifier,
                                           parameterId INTEGER OPTIONAL }
    ChipAuthenticationInfo  ::= SEQUENCE { protocol id-CA-*, version INTEGER, keyId INTEGER OPT }
    ChipAuthenticationPublicKeyInfo ::= SEQUENCE { protocol id-PK-{DH,ECDH},
                                           chipAuthenticationPublicKey SubjectPublicKeyInfo,
                                           keyId INTEGER OPTIONAL }
    ActiveAuthenticationInfo ::= SEQUENCE { protocol id-AA, version INTEGER,
                                           signatureAlgorithm OID }

``SecurityInfos.parse(data, file)`` gives the typed infos in file order; infos it does not
interpret (Terminal Authentication, ...) are kept raw as ``SecurityInfo``. ``encode()`` writes
them back (the card emulator and the test PKI build their files with it). Every malformed input
raises ``SecurityInfosError`` (an ``LdsError``) naming the file, the offset of the SecurityInfo
and what is wrong; for EF.CardAccess it is a ``CardAccessError``, also an ``AccessError``: the
access step treats it as "PACE not possible" and can fall back to BAC.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeVar

from asn1crypto import core
from asn1crypto import keys as asn1_keys

from station.icao import crypto, ec, keys
from station.icao.errors import AccessError, LdsError
from station.icao.tlv import tlv

CARD_ACCESS: Final = "EF.CardAccess"

ID_PACE: Final = "0.4.0.127.0.7.2.2.4"
_KEY_AGREEMENT: Final = {1: "DH", 2: "ECDH", 3: "DH", 4: "ECDH", 6: "ECDH"}
_MAPPING: Final = {1: "GM", 2: "GM", 3: "IM", 4: "IM", 6: "CAM"}
_CIPHERS: Final[dict[int, crypto.CipherName]] = {
    1: "3DES",
    2: "AES-128",
    3: "AES-192",
    4: "AES-256",
}
EC_PUBLIC_KEY: Final = "1.2.840.10045.2.1"
DH_PUBLIC_NUMBER: Final = "1.2.840.10046.2.1"
STANDARDIZED: Final = "0.4.0.127.0.7.1.2"  # standardizedDomainParameters: parameters = INTEGER id

ID_PK_DH: Final = "0.4.0.127.0.7.2.2.1.1"
ID_PK_ECDH: Final = "0.4.0.127.0.7.2.2.1.2"
_ID_CA: Final = "0.4.0.127.0.7.2.2.3"
#: id-CA-<DH|ECDH>-<cipher> -> (key agreement, secure messaging cipher)
CA_PROTOCOLS: Final[dict[str, tuple[str, crypto.CipherName]]] = {
    f"{_ID_CA}.{ka}.{cipher_id}": (agreement, cipher)
    for ka, agreement in ((1, "dh"), (2, "ecdh"))
    for cipher_id, cipher in _CIPHERS.items()
}
ID_CA_DH_3DES: Final = f"{_ID_CA}.1.1"
ID_CA_DH_AES128: Final = f"{_ID_CA}.1.2"
ID_CA_ECDH_3DES: Final = f"{_ID_CA}.2.1"
ID_CA_ECDH_AES128: Final = f"{_ID_CA}.2.2"

ID_AA: Final = "2.23.136.1.1.5"
# BSI TR-03111 ecdsa-plain-signatures (r || s), named by DG14's ActiveAuthenticationInfo.
_PLAIN: Final = "0.4.0.127.0.7.1.1.4.1"
ECDSA_PLAIN_HASHES: Final[dict[str, str]] = {
    f"{_PLAIN}.1": "sha1",
    f"{_PLAIN}.2": "sha224",
    f"{_PLAIN}.3": "sha256",
    f"{_PLAIN}.4": "sha384",
    f"{_PLAIN}.5": "sha512",
}
ECDSA_PLAIN_OID: Final[dict[str, str]] = {v: k for k, v in ECDSA_PLAIN_HASHES.items()}

_T = TypeVar("_T")


class SecurityInfosError(LdsError):
    """Malformed SecurityInfos; ``problem`` says what is wrong without file and offset."""

    def __init__(self, file: str, offset: int, detail: str) -> None:
        super().__init__(file, offset, detail)
        self.problem = detail


class CardAccessError(SecurityInfosError, AccessError):
    """EF.CardAccess is malformed (or names domain parameters the station cannot use). Also an
    AccessError: the access step treats it as "PACE not possible" and can fall back to BAC."""

    def __init__(self, offset: int, detail: str) -> None:
        super().__init__(CARD_ACCESS, offset, detail)


# --- the ASN.1 structures ---------------------------------------------------------------------


class _Generic(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("protocol", core.ObjectIdentifier),
        ("required_data", core.Any),
        ("optional_data", core.Any, {"optional": True}),
    ]


class _SetOfAny(core.SetOf):  # type: ignore[misc]
    _child_spec = core.Any


class _PaceInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("protocol", core.ObjectIdentifier),
        ("version", core.Integer),
        ("parameter_id", core.Integer, {"optional": True}),
    ]


class _AlgorithmIdentifier(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _PaceDomainParameterInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("protocol", core.ObjectIdentifier),
        ("domain_parameter", _AlgorithmIdentifier),
        ("parameter_id", core.Integer, {"optional": True}),
    ]


class _ChipAuthenticationInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("protocol", core.ObjectIdentifier),
        ("version", core.Integer),
        ("key_id", core.Integer, {"optional": True}),
    ]


class _ChipAuthenticationPublicKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("protocol", core.ObjectIdentifier),
        ("chip_authentication_public_key", core.Any),
        ("key_id", core.Integer, {"optional": True}),
    ]


class _ActiveAuthenticationInfo(core.Sequence):  # type: ignore[misc]
    _fields: ClassVar[list[Any]] = [
        ("protocol", core.ObjectIdentifier),
        ("version", core.Integer),
        ("signature_algorithm", core.ObjectIdentifier),
    ]


def _dotted(oid: core.ObjectIdentifier) -> str:
    """The OID's dotted form, refusing encodings that are not DER (asn1crypto accepts a
    truncated last arc or a leading 0x80 and reads another OID)."""
    dotted = str(oid.dotted)
    if not dotted or core.ObjectIdentifier(dotted).contents != oid.contents:
        raise ValueError(f"OID {bytes(oid.contents).hex().upper() or 'empty'} is not DER")
    return dotted


def oid_encode(dotted: str) -> bytes:
    """Dotted string -> DER OBJECT IDENTIFIER contents (without tag and length)."""
    return bytes(core.ObjectIdentifier(dotted).contents)


def oid_decode(contents: bytes) -> str:
    """DER OBJECT IDENTIFIER contents (without tag and length) -> dotted; ValueError if bad."""
    return _dotted(core.ObjectIdentifier.load(tlv(0x06, contents), strict=True))


def _optional_int(value: Any) -> int | None:
    native = value.native
    return None if native is None else int(native)


def _encode(spec: type[core.Sequence], fields: dict[str, Any]) -> bytes:
    return bytes(spec({k: v for k, v in fields.items() if v is not None}).dump())


def pace_protocol(key_agreement: str, cipher: crypto.CipherName, mapping: str = "GM") -> str:
    """The id-PACE-<ka>-<mapping>-<cipher> OID, e.g. ("ECDH", "AES-128") -> ...4.2.2."""
    ka_id = next(
        k for k, v in _KEY_AGREEMENT.items() if v == key_agreement and _MAPPING[k] == mapping
    )
    cipher_id = next(k for k, v in _CIPHERS.items() if v == cipher)
    return f"{ID_PACE}.{ka_id}.{cipher_id}"


# --- the typed infos --------------------------------------------------------------------------


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
        fields = {"protocol": self.protocol, "version": self.version}
        return _encode(_PaceInfo, fields | {"parameter_id": self.parameter_id})


@dataclass(frozen=True)
class PaceDomainParameterInfo:
    protocol: str
    algorithm: str  # the domainParameter AlgorithmIdentifier's OID
    parameters: bytes  # the AlgorithmIdentifier's parameters, raw DER (b"" if absent)
    parameter_id: int | None

    @classmethod
    def explicit(
        cls, domain: ec.Curve | ec.ModpGroup, parameter_id: int
    ) -> PaceDomainParameterInfo:
        """Domain parameters spelled out (ECParameters / DH DomainParameters), as a chip with
        proprietary parameters (ids 32-127) would store them."""
        if isinstance(domain, ec.Curve):
            size = domain.size
            specified = asn1_keys.SpecifiedECDomain(
                {
                    "version": "ecdpVer1",
                    "field_id": {"field_type": "prime_field", "parameters": domain.p},
                    "curve": {
                        "a": domain.a.to_bytes(size, "big"),
                        "b": domain.b.to_bytes(size, "big"),
                    },
                    "base": ec.encode_point(domain, domain.generator),
                    "order": domain.n,
                    "cofactor": 1,
                }
            )
            return cls(f"{ID_PACE}.2", EC_PUBLIC_KEY, bytes(specified.dump()), parameter_id)
        params = asn1_keys.DomainParameters({"p": domain.p, "g": domain.g, "q": domain.q})
        return cls(f"{ID_PACE}.1", DH_PUBLIC_NUMBER, bytes(params.dump()), parameter_id)

    def domain(self) -> ec.Curve | ec.ModpGroup:
        """Parse and check the parameters; CardAccessError when unusable."""
        try:
            if self.algorithm == STANDARDIZED:
                pid = int(core.Integer.load(self.parameters, strict=True).native)
                return ec.standard_domain(pid)
            if self.algorithm == EC_PUBLIC_KEY:
                return _checked_curve(
                    asn1_keys.SpecifiedECDomain.load(self.parameters, strict=True)
                )
            if self.algorithm == DH_PUBLIC_NUMBER:
                params = asn1_keys.DomainParameters.load(self.parameters, strict=True)
                group = keys.modp_group(params)
                if (group.p - 1) % group.q or not group.contains(group.g):
                    raise ValueError("g does not generate a subgroup of order q")
                return group
        except (*keys.MALFORMED, ec.EcError, keys.KeyLoadError) as exc:
            detail = _reason(exc)
            raise CardAccessError(0, f"domain parameters {self.parameter_id}: {detail}") from None
        raise CardAccessError(
            0, f"domain parameters {self.parameter_id}: {self.algorithm} unsupported"
        )

    def encode(self) -> bytes:
        algorithm: dict[str, Any] = {"algorithm": self.algorithm}
        if self.parameters:
            algorithm["parameters"] = core.Any.load(self.parameters)
        fields = {"protocol": self.protocol, "domain_parameter": algorithm}
        return _encode(_PaceDomainParameterInfo, fields | {"parameter_id": self.parameter_id})


@dataclass(frozen=True)
class ChipAuthenticationInfo:
    protocol: str  # one of CA_PROTOCOLS
    version: int
    key_id: int | None = None

    @property
    def agreement(self) -> str:
        """ "ecdh" | "dh"."""
        return CA_PROTOCOLS[self.protocol][0]

    def encode(self) -> bytes:
        fields = {"protocol": self.protocol, "version": self.version, "key_id": self.key_id}
        return _encode(_ChipAuthenticationInfo, fields)


@dataclass(frozen=True)
class ChipAuthenticationPublicKeyInfo:
    protocol: str  # ID_PK_DH | ID_PK_ECDH
    public_key: bytes  # the chip's static key, SubjectPublicKeyInfo DER
    key_id: int | None = None

    @property
    def agreement(self) -> str:
        """ "ecdh" | "dh"."""
        return "dh" if self.protocol == ID_PK_DH else "ecdh"

    def encode(self) -> bytes:
        fields = {
            "protocol": self.protocol,
            "chip_authentication_public_key": core.Any.load(self.public_key),
            "key_id": self.key_id,
        }
        return _encode(_ChipAuthenticationPublicKeyInfo, fields)


@dataclass(frozen=True)
class ActiveAuthenticationInfo:
    version: int
    signature_algorithm: str  # an ecdsa-plain-<hash> OID for EC keys

    @property
    def hash(self) -> str | None:
        """The hash of the ecdsa-plain signature algorithm, None when it is another one."""
        return ECDSA_PLAIN_HASHES.get(self.signature_algorithm)

    def encode(self) -> bytes:
        fields = {
            "protocol": ID_AA,
            "version": self.version,
            "signature_algorithm": self.signature_algorithm,
        }
        return _encode(_ActiveAuthenticationInfo, fields)


@dataclass(frozen=True)
class SecurityInfo:
    """A SecurityInfo this module does not interpret, kept as its DER bytes."""

    protocol: str
    raw: bytes

    def encode(self) -> bytes:
        return self.raw


@dataclass(frozen=True)
class CaOption:
    """One usable Chip Authentication configuration: a protocol paired with its chip key."""

    protocol: str  # id-CA-* OID
    agreement: str  # "ecdh" | "dh"
    cipher: crypto.CipherName  # of the secure messaging CA opens
    version: int
    key_id: int | None
    public_key: bytes  # the chip's static key, SubjectPublicKeyInfo DER


Info = (
    PaceInfo
    | PaceDomainParameterInfo
    | ChipAuthenticationInfo
    | ChipAuthenticationPublicKeyInfo
    | ActiveAuthenticationInfo
    | SecurityInfo
)


@dataclass(frozen=True)
class SecurityInfos:
    """The infos of one EF.CardAccess or DG14, in file order."""

    infos: tuple[Info, ...] = ()

    @classmethod
    def parse(cls, data: bytes, file: str = CARD_ACCESS, *, base: int = 0) -> SecurityInfos:
        """Parse a SET OF SecurityInfo (``base``: its offset in ``file``, for error messages)."""

        def error(offset: int, detail: str) -> SecurityInfosError:
            if file == CARD_ACCESS:
                return CardAccessError(base + offset, detail)
            return SecurityInfosError(file, base + offset, detail)

        if data[:1] != b"\x31":
            raise error(0, f"expected SET (31), found {data[:1].hex().upper() or 'nothing'}")
        try:
            items = [bytes(item.dump()) for item in _SetOfAny.load(data, strict=True)]
        except keys.MALFORMED as exc:
            raise error(0, f"SecurityInfos: {_reason(exc)}") from None
        # Children are kept byte for byte: count back from the end for their offsets.
        offset = len(data) - (2 if data[1:2] == b"\x80" else 0) - sum(map(len, items))
        infos = []
        for raw in items:
            try:
                infos.append(_info(raw))
            except _Malformed as exc:
                raise error(offset, str(exc)) from None
            offset += len(raw)
        return cls(tuple(infos))

    def encode(self) -> bytes:
        return tlv(0x31, b"".join(info.encode() for info in self.infos))

    def _of(self, kind: type[_T]) -> tuple[_T, ...]:
        return tuple(info for info in self.infos if isinstance(info, kind))

    @property
    def pace_infos(self) -> tuple[PaceInfo, ...]:
        return self._of(PaceInfo)

    @property
    def domain_parameter_infos(self) -> tuple[PaceDomainParameterInfo, ...]:
        return self._of(PaceDomainParameterInfo)

    @property
    def ca_infos(self) -> tuple[ChipAuthenticationInfo, ...]:
        return self._of(ChipAuthenticationInfo)

    @property
    def ca_public_keys(self) -> tuple[ChipAuthenticationPublicKeyInfo, ...]:
        return self._of(ChipAuthenticationPublicKeyInfo)

    @property
    def other(self) -> tuple[SecurityInfo, ...]:
        return self._of(SecurityInfo)

    @property
    def aa_hash(self) -> str | None:
        """The hash the ActiveAuthenticationInfo names (ecdsa-plain-<hash>), or None."""
        aa = self._of(ActiveAuthenticationInfo)
        return aa[0].hash if aa else None

    # --- PACE (EF.CardAccess) ---

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

    # --- Chip Authentication (DG14) ---

    def ca_options(self) -> list[CaOption]:
        """Chip Authentication configurations: each public key with the protocols that name
        it (same key agreement; the same keyId, or no keyId on either side). A public key
        without a ChipAuthenticationInfo implies CA version 1 with 3DES (ICAO 9303-11 9.2.5)."""
        options = []
        for key in self.ca_public_keys:
            matching = [
                info
                for info in self.ca_infos
                if info.agreement == key.agreement
                and (info.key_id == key.key_id or None in (info.key_id, key.key_id))
            ]
            if not matching:
                default = ID_CA_DH_3DES if key.agreement == "dh" else ID_CA_ECDH_3DES
                matching = [ChipAuthenticationInfo(default, 1, key.key_id)]
            for info in matching:
                cipher = CA_PROTOCOLS[info.protocol][1]
                option = CaOption(
                    info.protocol, key.agreement, cipher, info.version, key.key_id, key.public_key
                )
                options.append(option)
        return options


# --- parsing one SecurityInfo -----------------------------------------------------------------


class _Malformed(Exception):
    """One SecurityInfo is malformed (the message says how); its offset is added above."""


def _info(raw: bytes) -> Info:
    """One SecurityInfo, typed by its protocol OID."""
    try:
        generic = _Generic.load(raw, strict=True)
        protocol = _dotted(generic["protocol"])
        _ = generic["required_data"], generic["optional_data"]
    except keys.MALFORMED as exc:
        raise _Malformed(f"SecurityInfo: {_reason(exc)}") from None
    arcs = protocol[len(ID_PACE) + 1 :].split(".") if protocol.startswith(ID_PACE + ".") else []
    parse: Callable[[bytes, str], Info] | None = None
    kind = ""
    if len(arcs) == 2:
        kind, parse = "PACEInfo", _pace_info
    elif len(arcs) == 1:
        kind, parse = "PACEDomainParameterInfo", _domain_parameter_info
    elif protocol in CA_PROTOCOLS:
        kind, parse = "ChipAuthenticationInfo", _ca_info
    elif protocol in (ID_PK_DH, ID_PK_ECDH):
        kind, parse = "ChipAuthenticationPublicKeyInfo", _ca_public_key_info
    elif protocol == ID_AA:
        kind, parse = "ActiveAuthenticationInfo", _aa_info
    if parse is None:
        return SecurityInfo(protocol, raw)
    try:
        return parse(raw, protocol)
    except keys.MALFORMED as exc:
        raise _Malformed(f"{kind} {protocol}: {_reason(exc)}") from None


def _pace_info(raw: bytes, protocol: str) -> PaceInfo:
    info = _PaceInfo.load(raw, strict=True)
    return PaceInfo(protocol, int(info["version"].native), _optional_int(info["parameter_id"]))


def _domain_parameter_info(raw: bytes, protocol: str) -> PaceDomainParameterInfo:
    info = _PaceDomainParameterInfo.load(raw, strict=True)
    algorithm = info["domain_parameter"]
    parameters = algorithm["parameters"]
    return PaceDomainParameterInfo(
        protocol,
        _dotted(algorithm["algorithm"]),
        b"" if isinstance(parameters, core.Void) else bytes(parameters.dump()),
        _optional_int(info["parameter_id"]),
    )


def _ca_info(raw: bytes, protocol: str) -> ChipAuthenticationInfo:
    info = _ChipAuthenticationInfo.load(raw, strict=True)
    return ChipAuthenticationInfo(
        protocol, int(info["version"].native), _optional_int(info["key_id"])
    )


def _ca_public_key_info(raw: bytes, protocol: str) -> ChipAuthenticationPublicKeyInfo:
    info = _ChipAuthenticationPublicKeyInfo.load(raw, strict=True)
    spki = bytes(info["chip_authentication_public_key"].dump())
    return ChipAuthenticationPublicKeyInfo(protocol, spki, _optional_int(info["key_id"]))


def _aa_info(raw: bytes, protocol: str) -> ActiveAuthenticationInfo:
    info = _ActiveAuthenticationInfo.load(raw, strict=True)
    return ActiveAuthenticationInfo(
        int(info["version"].native), _dotted(info["signature_algorithm"])
    )


def _checked_curve(specified: asn1_keys.SpecifiedECDomain) -> ec.Curve:
    """Explicit ECParameters (prime field, cofactor 1) -> a checked Curve: the table's curve
    object when the values are a known curve's (OpenSSL can then do the ECDH)."""
    cofactor = specified["cofactor"].native
    if cofactor is not None and cofactor != 1:
        raise ValueError("cofactor is not 1")
    curve = keys.explicit_curve(specified)
    if curve.name != "explicit":
        return curve
    if not curve.contains(curve.generator):
        raise ValueError("the base point is not on the curve")
    if pow(2, curve.p - 1, curve.p) != 1 or pow(3, curve.n - 1, curve.n) != 1:
        raise ValueError("p or the order is not prime")
    try:
        ec.scalar_mult(curve, curve.n, curve.generator)
    except ec.EcError:
        return curve  # n*G is the point at infinity, as it must be
    raise ValueError("the order does not annihilate the generator")


def _reason(exc: BaseException) -> str:
    """asn1crypto's message without the class paths: "tag should have been 2, but 4 was found"."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return re.sub(r"^Error parsing [\w.]+ - ", "", first)
