"""C2PA / CAWG training-and-data-mining assertion from a manifest-store JSON.

Input is the JSON form ``c2patool`` prints (``{"active_manifest": label, "manifests": {label:
{"assertions": [{"label": ..., "data": ...}], "ingredients": [...]}}}``), as a dict, str or
bytes; a bare manifest (``{"assertions": [...]}``) is read as the active one. No JUMBF parsing.

Reader robustness (§8.5): labels ``c2pa.training-mining`` and ``cawg.training-mining`` with an
optional ``.vN`` suffix; entries under ``entries`` or (early payloads) at top level; both
``constraint_info`` and ``constraints_info``; ``constrained`` counts as ``notAllowed``. Only the
active manifest speaks for the asset; an assertion found only in other (ingredient) manifests is
reported as ``ingredient_only``. Signature / validation status is recorded, never used to drop
a ``notAllowed``. Never raises on hostile input; work is capped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

MAX_JSON_BYTES = 8 * 1024 * 1024
MAX_MANIFESTS = 256
MAX_ASSERTIONS = 1024
MAX_ENTRIES = 256

LABEL_RE = re.compile(r"^(?:c2pa|cawg)\.training-mining(?:\.v\d+)?$", re.I)
_KEY_PREFIX_RE = re.compile(r"^(?:c2pa|cawg)\.", re.I)

#: Entry key (without c2pa./cawg.) -> purposes it speaks for.
KEY_PURPOSES: dict[str, frozenset[str]] = {
    "ai_generative_training": frozenset({"train-ai"}),
    "ai_training": frozenset({"train-ai"}),
    "data_mining": frozenset({"tdm"}),
    "ai_inference": frozenset({"ai-input"}),
}

_USES = {"allowed": "allowed", "notallowed": "notAllowed", "constrained": "constrained"}


@dataclass(frozen=True, slots=True)
class C2paEntry:
    key: str  # as written, e.g. "cawg.ai_generative_training"
    use: str | None  # "allowed" | "notAllowed" | "constrained" | None (unrecognised)
    raw_use: str | None
    constraint_info: str | None = None

    @property
    def short_key(self) -> str:
        return _KEY_PREFIX_RE.sub("", self.key).lower()

    @property
    def not_allowed(self) -> bool:
        return self.use in ("notAllowed", "constrained")

    def covers(self, purpose: str) -> bool:
        return purpose in KEY_PURPOSES.get(self.short_key, frozenset())


@dataclass(frozen=True, slots=True)
class C2paAssertion:
    manifest: str
    label: str
    entries: tuple[C2paEntry, ...]
    top_level: bool = False  # early payload: entries not under "entries"


@dataclass(frozen=True, slots=True)
class C2paResult:
    ok: bool = False
    active_manifest: str | None = None
    active: tuple[C2paAssertion, ...] = ()  # training-mining assertions of the active manifest
    ingredients: tuple[C2paAssertion, ...] = ()  # the same in any other manifest
    signature: str = "unknown"  # "valid" | "trusted" | "untrusted" | "invalid" | "unknown"
    issuer: str | None = None
    validation_codes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def ingredient_only(self) -> bool:
        return not self.active and bool(self.ingredients)

    def entries_for(self, purpose: str) -> list[tuple[C2paAssertion, C2paEntry]]:
        """Active-manifest entries whose key covers ``purpose``."""
        return [(a, e) for a in self.active for e in a.entries if e.covers(purpose)]


def _entries(data: object) -> tuple[list[C2paEntry], bool, list[str]]:
    problems: list[str] = []
    if not isinstance(data, Mapping):
        return [], False, ["training-mining data is not an object"]
    top_level = False
    raw = data.get("entries")
    if not isinstance(raw, Mapping):
        raw = {
            k: v
            for k, v in data.items()
            if isinstance(k, str) and isinstance(v, Mapping) and "use" in v
        }
        top_level = bool(raw)
        if top_level:
            problems.append("training-mining entries at top level (early payload)")
    out: list[C2paEntry] = []
    for key, val in list(raw.items())[:MAX_ENTRIES]:
        if not isinstance(key, str) or not isinstance(val, Mapping):
            problems.append("malformed training-mining entry")
            continue
        raw_use = val.get("use")
        use = _USES.get(raw_use.strip().lower()) if isinstance(raw_use, str) else None
        if use is None:
            problems.append(f"unrecognised use {str(raw_use)[:40]!r} for {key[:60]!r}")
        info = val.get("constraint_info", val.get("constraints_info"))
        out.append(
            C2paEntry(
                key=key[:200],
                use=use,
                raw_use=raw_use if isinstance(raw_use, str) else None,
                constraint_info=str(info)[:500] if info is not None else None,
            )
        )
    return out, top_level, problems


def _assertions(label: str, manifest: object, problems: list[str]) -> list[C2paAssertion]:
    if not isinstance(manifest, Mapping):
        return []
    raw = manifest.get("assertions")
    if not isinstance(raw, list):
        return []
    out: list[C2paAssertion] = []
    for a in raw[:MAX_ASSERTIONS]:
        if not isinstance(a, Mapping):
            continue
        alabel = a.get("label")
        if not isinstance(alabel, str) or not LABEL_RE.match(alabel.strip()):
            continue
        entries, top, probs = _entries(a.get("data"))
        problems.extend(probs)
        out.append(C2paAssertion(label, alabel.strip(), tuple(entries), top))
    return out


def _signature(store: Mapping, active: Mapping | None) -> tuple[str, str | None, list[str]]:
    codes: list[str] = []
    vs = store.get("validation_status")
    if isinstance(vs, list):
        codes += [str(x.get("code")) for x in vs[:64] if isinstance(x, Mapping) and x.get("code")]
    vr = store.get("validation_results")
    if isinstance(vr, Mapping) and isinstance(vr.get("activeManifest"), Mapping):
        failures = vr["activeManifest"].get("failure")
        if isinstance(failures, list):
            codes += [
                str(x.get("code"))
                for x in failures[:64]
                if isinstance(x, Mapping) and x.get("code")
            ]
    state = store.get("validation_state")
    status = "unknown"
    if isinstance(state, str) and state.lower() in ("valid", "trusted", "invalid"):
        status = state.lower()
    if any("untrusted" in c.lower() for c in codes):
        status = "untrusted" if status != "invalid" else status
    elif codes and status == "unknown":
        status = "invalid"
    issuer = None
    if active is not None and isinstance(active.get("signature_info"), Mapping):
        iss = active["signature_info"].get("issuer")
        issuer = str(iss)[:200] if iss is not None else None
    return status, issuer, codes


def parse_manifest_store(data: object) -> C2paResult:
    """Training-and-mining assertions of a manifest store (never raises)."""
    try:
        return _parse(data)
    except Exception as exc:  # defensive: a parser bug must not break a scan
        return C2paResult(problems=(f"c2pa: {type(exc).__name__}",))


def _parse(data: object) -> C2paResult:
    if isinstance(data, (bytes, bytearray, memoryview, str)):
        if len(data) > MAX_JSON_BYTES:
            return C2paResult(problems=("manifest store too large",))
        try:
            data = json.loads(bytes(data) if not isinstance(data, str) else data)
        except (ValueError, RecursionError):
            return C2paResult(problems=("manifest store is not JSON",))
    if not isinstance(data, Mapping):
        return C2paResult(problems=("manifest store is not an object",))
    problems: list[str] = []
    manifests = data.get("manifests")
    active_label = data.get("active_manifest")
    if not isinstance(manifests, Mapping):
        if isinstance(data.get("assertions"), list):  # a bare manifest
            manifests = {"": data}
            active_label = ""
        else:
            return C2paResult(problems=("no manifests",))
    if not isinstance(active_label, str) or active_label not in manifests:
        problems.append("no active manifest: nothing speaks for the asset")
        active_label = None
    active: list[C2paAssertion] = []
    others: list[C2paAssertion] = []
    for label, manifest in list(manifests.items())[:MAX_MANIFESTS]:
        found = _assertions(str(label), manifest, problems)
        (active if label == active_label else others).extend(found)
    active_manifest = manifests.get(active_label) if active_label is not None else None
    if isinstance(active_manifest, Mapping):
        ingredients = active_manifest.get("ingredients")
        # Some tools inline an ingredient's manifest store instead of naming it.
        if isinstance(ingredients, list):
            for ing in ingredients[:MAX_MANIFESTS]:
                if isinstance(ing, Mapping) and isinstance(ing.get("manifest_data"), Mapping):
                    inner = ing["manifest_data"]
                    sub = inner.get("manifests") if isinstance(inner, Mapping) else None
                    if isinstance(sub, Mapping):
                        for lab, man in list(sub.items())[:MAX_MANIFESTS]:
                            others.extend(_assertions(str(lab), man, problems))
    status, issuer, codes = _signature(
        data, active_manifest if isinstance(active_manifest, Mapping) else None
    )
    return C2paResult(
        ok=True,
        active_manifest=active_label,
        active=tuple(active),
        ingredients=tuple(others),
        signature=status,
        issuer=issuer,
        validation_codes=tuple(codes),
        problems=tuple(dict.fromkeys(problems))[:64],
    )
