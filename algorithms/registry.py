"""The one registry of algorithms: name -> the module holding its config, profiles, whole update and `train`.

The contract is `Algorithm`: a module is an algorithm when it has what the protocol lists (a type checker holds
a module to a protocol, and `tests/test_algorithms.py` holds every registered one to it at run time). Those with a
latent world model that runs can share (LOMPO, LMBRL, Offline SLAC) are also a `WorldModelAlgorithm`, so a
scheduler can train each shared model once, as a job of its own, before the runs that use it. Every call is made
with keyword arguments.

Built-ins are declared here and nowhere else (`ALGORITHMS`). Algorithms from outside the package come through
`resolve`, the one lookup every caller uses (`jobs`, the reproduce planner and, through its jobs, the Ray workers):
an installed package's entry point in the group `lompo_bench.algorithms` (its name is the algorithm's NAME), or a
module on the Python path named as `package.module` / `package.module:object`. Either is held to `Algorithm` when
loaded (`check_algorithm`: one line naming what is missing), and a plugin that fails to import is one line naming
its entry point; it never hides the built-ins (`list_algorithms` marks it). docs/ALGORITHMS.md has the contract.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.metadata
import importlib.util
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lompo_bench.errors import UserError

if TYPE_CHECKING:
    import torch

    from lompo_bench.progress import Progress


@runtime_checkable
class Algorithm(Protocol):
    NAME: str  # the registry key, and the `algo` of its result records
    PROFILES: dict[str, Any]  # "smoke", "cpu", "paper" -> a frozen config dataclass

    def make_config(self, profile: str, **overrides: Any) -> Any:
        """The profile's config with `overrides` (config field -> value) applied; `UserError` for a bad one."""

    def train(
        self,
        *,
        dataset_id: str,
        task: str,
        profile: str,
        config: Any,
        folder: Path,
        seed: int,
        device: torch.device,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Train (resuming `folder`'s checkpoint), evaluate, and return the result record (also in `folder`)."""

    def load_policy(self, folder: Path, device: torch.device) -> Any:
        """The trained policy of a run folder: `reset()` at an episode start, `act(observation) -> action`."""


@runtime_checkable
class WorldModelAlgorithm(Algorithm, Protocol):
    def world_model_key(self, config: Any, task: str, image_size: int = 64) -> str:
        """A digest of what decides the world model on `task`'s images of `image_size` px: runs with equal keys
        share one."""

    def train_world_model(
        self,
        *,
        dataset_id: str,
        task: str,
        config: Any,
        seed: int,
        device: torch.device,
        root: Path,
        progress: Progress | None = None,
        tensorboard: bool = False,
    ) -> Path:
        """Train the shared world model under the runs root `root` (or find it trained); returns its folder."""


@runtime_checkable
class WorldModelConfigs(Protocol):
    """What planning asks of an algorithm whose runs share a world model (a `WorldModelAlgorithm` is one): its
    configs and the key of the model a config trains. A built-in's (`world_model_configs`) needs no torch."""

    NAME: str

    def make_config(self, profile: str, **overrides: Any) -> Any: ...

    def world_model_key(self, config: Any, task: str, image_size: int = 64) -> str: ...


# name -> module path; imported on use, so listing algorithms needs no torch.
ALGORITHMS: dict[str, str] = {
    "lompo": "lompo_bench.algorithms.lompo",
    "lmbrl": "lompo_bench.algorithms.lmbrl",
    "offline_slac": "lompo_bench.algorithms.offline_slac",
    "cql": "lompo_bench.algorithms.cql",
    "bc": "lompo_bench.algorithms.bc",
    "drqbc": "lompo_bench.algorithms.drqbc",
}
DESCRIPTIONS: dict[str, str] = {
    "lompo": "LOMPO: variational latent model with a forward ensemble, penalized latent rollouts, latent actor-critic",
    "lmbrl": "latent model-based RL (MBPO-style latent rollouts): LOMPO without the uncertainty penalty",
    "offline_slac": "Offline SLAC: the same latent model, SAC on inferred real transitions only",
    "cql": "CQL(H) from stacked frames: conservative SAC with a DrQ-style encoder",
    "bc": "behavior cloning from stacked frames",
    "drqbc": "DrQ+BC (V-D4RL's baseline, not in the paper): TD3+BC on a DrQ-v2 encoder over stacked frames",
}
# The built-ins that are a `WorldModelAlgorithm` (runs sharing a world model), each with the torch-free object
# (`module:object`) that answers what planning asks of it (`WorldModelConfigs`: which world model a config
# trains), so that a planner imports neither the algorithms nor torch. tests/test_registry.py holds both to the
# modules.
WORLD_MODEL_CONFIGS: dict[str, str] = {
    "lompo": "lompo_bench.algorithms.lompo_config:LOMPO",
    "lmbrl": "lompo_bench.algorithms.lompo_config:LMBRL",
    "offline_slac": "lompo_bench.algorithms.lompo_config:OFFLINE_SLAC",
}
SHARED_WORLD_MODEL: frozenset[str] = frozenset(WORLD_MODEL_CONFIGS)


ENTRY_POINT_GROUP = "lompo_bench.algorithms"  # where installed packages declare algorithms: name -> module[:object]
PROFILE_NAMES = ("smoke", "cpu", "paper")  # every algorithm has these three (`reproduce --profile` asks any)
TRAIN_KEYWORDS = ("dataset_id", "task", "profile", "config", "folder", "seed", "device", "progress")
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*\Z")  # a NAME names run folders and report columns: kept plain


@dataclass(frozen=True)
class AlgorithmSource:
    """Where an algorithm comes from (what `lompo-bench algos` lists)."""

    name: str  # its NAME: its run folders, result records and report columns carry it
    reference: str  # what `--algo` takes to find it again in any process (a Ray worker): the name, or the module path
    origin: str  # "built-in", "entry point NAME = VALUE (distribution version)" or "module package.module"
    description: str
    error: str | None = None  # why an installed plugin cannot be used (`list_algorithms` shows it, marked)


def algorithm_names() -> list[str]:
    """The built-in algorithms, in the registry's order (with installed plugins: `list_algorithms`)."""
    return list(ALGORITHMS)


def built_in_name(spec: str) -> str | None:
    """The built-in `spec` names (as `resolve` reads a name: case and '-' for '_' aside), without importing it;
    None when it names none (a plugin, a module path, an unknown name)."""
    spec = spec.strip()
    key = spec.lower().replace("-", "_")
    return key if "." not in spec and ":" not in spec and key in ALGORITHMS else None


def world_model_configs(name: str) -> WorldModelConfigs | None:
    """What planning needs of the built-in `name`'s shared world model, without importing the algorithm (or torch):
    its `WORLD_MODEL_CONFIGS` object; None for a built-in whose runs share none."""
    reference = WORLD_MODEL_CONFIGS.get(name)
    if reference is None:
        return None
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def get_algorithm(name: str) -> Algorithm:
    """The algorithm `name` names (`resolve`): a built-in's module, an installed plugin, or a module path."""
    return resolve(name)[0]


def resolve(spec: str) -> tuple[Algorithm, AlgorithmSource]:
    """The algorithm `spec` names and where it comes from: a built-in's name, an installed entry point's name, or a
    module on the Python path (`package.module`, `package.module:object`, or a top-level `module` that is neither
    of the others' name). One-line `UserError`s for an unknown
    name (with close matches), a plugin that fails to import, or one that falls short of `Algorithm`."""
    spec = spec.strip()
    if (key := built_in_name(spec)) is not None:  # a built-in wins over any plugin: a package never replaces one
        return importlib.import_module(ALGORITHMS[key]), _built_in(key)
    if "." in spec or ":" in spec:
        return _from_module_path(spec)
    key = spec.lower().replace("-", "_")
    points = _entry_points()
    if key not in points and spec.isidentifier() and importlib.util.find_spec(spec) is not None:
        return _from_module_path(spec)  # a top-level module on the path (`PYTHONPATH=examples/tiny_bc`)
    if key not in points:
        known = [*ALGORITHMS, *(name for name in points if name not in ALGORITHMS)]
        close = difflib.get_close_matches(key, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UserError(
            f"unknown algorithm {spec!r}{hint}; known: {', '.join(known)}; or --algo package.module for an "
            "algorithm module on the Python path"
        )
    return _from_entry_point(key, points[key])


def list_algorithms() -> list[AlgorithmSource]:
    """The built-ins (not imported, so listing them needs no torch), then every installed plugin, loaded and
    checked: one that fails is listed with its error, and never keeps the others from being listed."""
    found = [_built_in(name) for name in ALGORITHMS]
    for key, points in sorted(_entry_points().items()):
        origin = "; ".join(_describe_point(point) for point in points)
        if key in ALGORITHMS:
            found.append(AlgorithmSource(key, key, origin, "", f"never loaded: {key} is a built-in algorithm's name"))
            continue
        try:
            found.append(_from_entry_point(key, points)[1])
        except UserError as error:
            found.append(AlgorithmSource(key, key, origin, "", str(error)))
    return found


def check_algorithm(candidate: Any, where: str) -> Algorithm:
    """`candidate` held to `Algorithm` at load time (a protocol alone checks nothing when a module is imported); a
    one-line `UserError` naming everything it lacks."""
    missing: list[str] = []
    name = getattr(candidate, "NAME", None)
    if name is None:
        missing.append("NAME")
    elif not isinstance(name, str) or not NAME_PATTERN.match(name):
        missing.append(f"a NAME of lowercase letters, digits and _ (it has {name!r})")
    profiles = getattr(candidate, "PROFILES", None)
    if not isinstance(profiles, dict):
        missing.append("PROFILES (a dict: smoke, cpu, paper -> a config)")
    else:
        missing += [f"PROFILES[{profile!r}]" for profile in PROFILE_NAMES if profile not in profiles]
    calls: tuple[tuple[str, tuple[Any, ...], dict[str, Any]], ...] = (
        ("make_config", ("cpu",), {}),
        ("train", (), dict.fromkeys(TRAIN_KEYWORDS)),
        ("load_policy", (None, None), {}),
    )
    for member, args, kwargs in calls:
        function = getattr(candidate, member, None)
        if not callable(function):
            missing.append(f"{member}()")
            continue
        try:
            inspect.signature(function).bind(*args, **kwargs)  # called so by jobs: make_config(profile), ...
        except ValueError:
            pass  # no signature to read (a C function): the call itself will tell
        except TypeError as error:
            wanted = ", ".join(TRAIN_KEYWORDS) + " as keywords" if member == "train" else f"{len(args)} argument(s)"
            missing.append(f"{member}() taking {wanted} ({error})")
    if missing:
        raise UserError(f"{where} is not a lompo-bench algorithm: it lacks {'; '.join(missing)} (docs/ALGORITHMS.md)")
    return candidate


def _built_in(name: str) -> AlgorithmSource:
    return AlgorithmSource(name, name, "built-in", DESCRIPTIONS.get(name, ""))


def _entry_points() -> dict[str, list[importlib.metadata.EntryPoint]]:
    """The installed packages' algorithm entry points by name (metadata only: nothing is imported here)."""
    found: dict[str, list[importlib.metadata.EntryPoint]] = {}
    for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(point.name.lower().replace("-", "_"), []).append(point)
    return found


def _describe_point(point: importlib.metadata.EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    package = f" ({dist.name} {dist.version})" if dist is not None else ""
    return f"entry point {point.name} = {point.value}{package}"


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _description(candidate: Any) -> str:
    text = getattr(candidate, "DESCRIPTION", None) or (getattr(candidate, "__doc__", None) or "").strip()
    return str(text).splitlines()[0] if text else ""


def _from_entry_point(key: str, points: list[importlib.metadata.EntryPoint]) -> tuple[Algorithm, AlgorithmSource]:
    if len(points) > 1:
        raise UserError(
            f"the algorithm {key!r} is declared by more than one installed package ("
            + "; ".join(map(_describe_point, points)) + "): uninstall all but one"
        )  # fmt: skip
    point = points[0]
    where = f"the algorithm plugin {_describe_point(point)}"
    try:
        loaded = point.load()
    except Exception as error:  # a plugin may fail to import in any way; it must not take the built-ins with it
        raise UserError(f"{where} failed to import: {_one_line(error)}") from None
    candidate = check_algorithm(loaded, where)
    if candidate.NAME != key:
        raise UserError(
            f"{where} loads an algorithm whose NAME is {candidate.NAME!r}: an entry point's name must be its "
            "algorithm's NAME (the name its runs and records carry)"
        )
    return candidate, AlgorithmSource(key, key, _describe_point(point), _description(candidate))


# What an algorithm module binds at its top level (`Algorithm`): read from its source before it is imported.
MODULE_MEMBERS = ("NAME", "make_config", "train", "load_policy")


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def _check_source(spec: str, module_name: str, attribute: str) -> None:
    """Refuse, before importing it (importing runs its code), a module whose source binds no `NAME` at its top level
    (no algorithm module: `MODULE_MEMBERS`), or not the object `attribute` it is asked for. One that declares a
    NAME is imported, and `check_algorithm` lists all it lacks. A module with no Python source to read (compiled,
    frozen) is left to the import."""
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):  # a parent package that fails to import: the import below says why
        return
    if found is None or not found.origin or not found.origin.endswith(".py"):
        return
    try:
        tree = ast.parse(Path(found.origin).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return  # the import below reports it
    names = _top_level_names(tree)
    if attribute and attribute not in names:
        raise UserError(f"unknown algorithm {spec!r}: module {module_name} has no {attribute!r} (not imported)")
    if not attribute and "NAME" not in names:
        raise UserError(
            f"{spec!r} is not an algorithm module: {found.origin} defines no NAME (not imported; an algorithm "
            f"module defines {', '.join(MODULE_MEMBERS)}: docs/ALGORITHMS.md)"
        )


def _from_module_path(spec: str) -> tuple[Algorithm, AlgorithmSource]:
    module_name, _, attribute = (part.strip() for part in spec.partition(":"))
    if not module_name or (":" in spec and not attribute):
        raise UserError(f"--algo {spec!r}: name a module as package.module, or an object in it as package.module:obj")
    _check_source(spec, module_name, attribute)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and (module_name == error.name or module_name.startswith(f"{error.name}.")):
            raise UserError(
                f"unknown algorithm {spec!r}: no module {error.name!r} on the Python path (install its package, or "
                "put its folder on PYTHONPATH)"
            ) from None
        raise UserError(f"the algorithm module {module_name} failed to import: {_one_line(error)}") from None
    except Exception as error:  # as for an entry point: any failure of the user's module is one line
        raise UserError(f"the algorithm module {module_name} failed to import: {_one_line(error)}") from None
    if attribute and not hasattr(module, attribute):
        raise UserError(f"unknown algorithm {spec!r}: module {module_name} has no {attribute!r}")
    where = f"the algorithm module {spec}"
    candidate = check_algorithm(getattr(module, attribute) if attribute else module, where)
    name = candidate.NAME
    if name in ALGORITHMS:
        if candidate is not importlib.import_module(ALGORITHMS[name]):
            raise UserError(
                f"{where} calls itself {name!r}, a built-in algorithm's name: its runs and records would mix with "
                "the built-in's; give it a NAME of its own"
            )
        return candidate, _built_in(name)
    others = [p for p in _entry_points().get(name, []) if p.value.replace(" ", "") != spec.replace(" ", "")]
    if others:
        raise UserError(
            f"{where} calls itself {name!r}, the name of the installed {_describe_point(others[0])}: their runs "
            f"would mix; use --algo {name} for the installed one, or give this one a NAME of its own"
        )
    return candidate, AlgorithmSource(name, spec, f"module {spec}", _description(candidate))
