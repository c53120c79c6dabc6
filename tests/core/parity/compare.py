"""Running both implementations: the example budgets, `same` (which asserts one outcome on
both) and the views that turn what they return into comparable data."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import sock8
from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument

from tests.core import reference as ref

# --------------------------------------------------------------------------------------------
# Budgets
# --------------------------------------------------------------------------------------------


def _profile_scale() -> float:
    """`max_examples` of the requested (or loaded) profile, relative to hypothesis' 100."""
    base = settings.default
    name = os.environ.get("HYPOTHESIS_PROFILE")
    if name:
        with contextlib.suppress(InvalidArgument):
            base = settings.get_profile(name)
    return 1.0 if base is None else base.max_examples / 100


_SCALE = _profile_scale()


def budget(examples: int) -> settings:
    """Settings for a property: `examples` at the default profile, scaled by the profile."""
    return settings(
        max_examples=max(1, round(examples * _SCALE)),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# --------------------------------------------------------------------------------------------
# Running both implementations
# --------------------------------------------------------------------------------------------

RUST: ModuleType = sock8
REFERENCE: ModuleType = ref
Outcome = tuple[str, object]


def outcome(call: Callable[[], object]) -> Outcome:
    """`("returned", value)` or `("raised", exception class)`.

    A pyo3 `PanicException` derives from `BaseException`, so everything but an interpreter
    exit is recorded: a panic then shows up as a disagreement instead of aborting the run.
    """
    try:
        value = call()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        return ("raised", type(exc))
    return ("returned", value)


def show(result: Outcome) -> str:
    """A readable outcome for assertion messages."""
    kind, value = result
    if kind == "raised" and isinstance(value, type):
        return f"raised {value.__module__}.{value.__qualname__}"
    return f"returned {value!r}"[:2000]


def same(call: Callable[[ModuleType], object]) -> Outcome:
    """Run `call` on the Rust core and on the reference; assert the same outcome; return it."""
    rust = outcome(lambda: call(RUST))
    reference = outcome(lambda: call(REFERENCE))
    assert rust == reference, f"\n  rust:      {show(rust)}\n  reference: {show(reference)}"
    return reference


def returned(result: Outcome) -> object:
    """The value of an outcome that must be a return."""
    assert result[0] == "returned", show(result)
    return result[1]


def raised(result: Outcome) -> object:
    """The exception class of an outcome that must be a raise."""
    assert result[0] == "raised", show(result)
    return result[1]


def grants_view(grants: Any) -> dict[str, object]:
    """Everything observable about a `Grants`, as plain data."""
    channels = grants.channels
    view: dict[str, object] = {
        "identity": grants.identity,
        "channels": channels,
        "channels_type": type(channels),
        "expires_at": grants.expires_at,
        "expires_at_type": type(grants.expires_at),
        "issued_at": grants.issued_at,
        "issued_at_type": type(grants.issued_at),
        "jti": grants.jti,
        "iter": list(grants),
        "allows": [grants.allows(channel) for channel in channels],
        "contains": [channel in grants for channel in channels],
        "allows_other": [
            grants.allows(other)
            for other in ("", "x", "not.granted##x", *(c + "x" for c in channels[:3]))
        ],
        "allows_non_str": outcome(lambda: grants.allows(b"x")),
    }
    if len(set(channels)) == len(channels):  # len() of duplicate grants is not specified
        view["len"] = len(grants)
    return view


def verify_view(verifier: Any, token: str | bytes, now: float) -> object:
    """`grants_view(verifier.verify(token, now=now))`."""
    return grants_view(verifier.verify(token, now=now))


# --------------------------------------------------------------------------------------------
# What is compared
# --------------------------------------------------------------------------------------------


def template_view(template: Any) -> tuple[object, ...]:
    """Everything observable about a `ChannelTemplate`."""
    return (template.template, template.params, type(template.params))


def verifier_config_view(verifier: Any) -> tuple[object, ...]:
    """The observable configuration of a `Verifier`."""
    return (
        verifier.audience,
        verifier.issuer,
        verifier.leeway,
        type(verifier.leeway),
        sorted(verifier.kids, key=repr),
    )


def signer_config_view(signer: Any) -> tuple[object, ...]:
    """The observable configuration of a `Signer`."""
    return (signer.kid, signer.audience, signer.issuer, signer.ttl)


def check_json_of(impl: ModuleType) -> Callable[..., None]:
    """`check_json` of an implementation (the Rust one lives in `sock8._core`)."""
    checker: Callable[..., None] = (sock8._core if impl is RUST else impl).check_json
    return checker
