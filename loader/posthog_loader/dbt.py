"""Read dbt's own configuration (project, profile, manifest) without importing dbt.

The loader must hit exactly the relations `dbt build` made for the chosen target, so it reuses dbt's
flags and files rather than asking for connection details a second time.
"""

import ast
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import orjson
import yaml
from jinja2.nativetypes import NativeEnvironment, NativeTemplate

from posthog_loader.errors import ConfigError, NotBuiltError

DEFAULT_TARGET_PATH = "target"


@dataclass(frozen=True)
class DbtProject:
    root: Path
    name: str
    profile: str
    target_dir: Path


@dataclass(frozen=True)
class Target:
    profile: str
    name: str
    type: str
    # Holds credentials: kept out of repr so it can never leak into a log line or traceback.
    settings: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Relation:
    """A model's relation as dbt created it (custom schemas and aliases included)."""

    database: str | None
    schema: str
    identifier: str
    # dbt's own rendering of the name, quoted the way the adapter quotes it; None in old manifests.
    rendered: str | None


class _MissingEnvVar(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _Typed(str):
    """Marks a rendered value that dbt's as_* filters asked to convert."""

    def convert(self) -> Any:
        return str(self)


class _AsNumber(_Typed):
    def convert(self) -> Any:
        try:
            return int(self)
        except ValueError:
            pass
        try:
            return float(self)
        except ValueError:
            # Never the value: a misplaced filter may have been given a password.
            raise ValueError("`| as_number` was given a value that is not a number") from None


class _AsBool(_Typed):
    def convert(self) -> Any:
        lowered = self.strip().lower()
        if lowered in {"true", "1", "yes"}:
            return True
        if lowered in {"false", "0", "no"}:
            return False
        raise ValueError("`| as_bool` was given a value that is not true/false/yes/no/1/0")


class _AsNative(_Typed):
    def convert(self) -> Any:
        try:
            return ast.literal_eval(self)
        except (ValueError, SyntaxError):
            return str(self)


def _concat(values: Iterable[Any]) -> Any:
    parts = list(values)
    if len(parts) == 1 and isinstance(parts[0], _Typed):
        return parts[0].convert()
    # Like dbt: a rendered value stays a string unless an as_* filter says otherwise.
    return "".join(str(part) for part in parts)


class _ProfileEnvironment(NativeEnvironment):
    concat = staticmethod(_concat)


class _ProfileTemplate(NativeTemplate):
    environment_class = _ProfileEnvironment


_ProfileEnvironment.template_class = _ProfileTemplate


class _EnvVars:
    """dbt's env_var(), remembering what it read so an error can name a variable instead of
    showing its value (which may be a secret)."""

    def __init__(self) -> None:
        self.read: dict[str, str] = {}

    def __call__(self, name: str, default: Any = None) -> str:
        if name in os.environ:
            self.read[name] = os.environ[name]
            return os.environ[name]
        if default is None:
            raise _MissingEnvVar(name)
        return str(default)

    def mask(self, text: str) -> str:
        for name, value in sorted(self.read.items(), key=lambda item: -len(item[1])):
            if value:
                text = text.replace(value, f"<value of {name}>")
        return text


def _make_environment() -> _ProfileEnvironment:
    env = _ProfileEnvironment(undefined=jinja2.StrictUndefined)
    env.globals["env_var"] = _EnvVars()
    env.filters["as_number"] = _AsNumber
    env.filters["as_bool"] = _AsBool
    env.filters["as_native"] = _AsNative
    env.filters["as_text"] = str
    return env


def render(value: Any, where: str, env: _ProfileEnvironment | None = None) -> Any:
    """Render jinja in every string of a YAML tree, as dbt does for profiles and project files."""
    env = env or _make_environment()
    if isinstance(value, Mapping):
        return {key: render(item, f"{where}.{key}", env) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, f"{where}[{index}]", env) for index, item in enumerate(value)]
    if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
        return value
    try:
        return env.from_string(value).render()
    except _MissingEnvVar as missing:
        raise ConfigError(
            f"{where} uses env_var('{missing.name}'), but the environment variable "
            f"{missing.name} is not set and no default is given. Set {missing.name}, or give a "
            f"default: env_var('{missing.name}', '...')."
        ) from None
    except (jinja2.TemplateError, ValueError, TypeError) as error:
        # Neither the template text (it may sit next to a literal secret) nor a value read from
        # the environment is echoed.
        message = env.globals["env_var"].mask(str(error))
        raise ConfigError(f"{where} could not be rendered: {message}") from None


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None


def load_project(project_dir: Path) -> DbtProject:
    path = project_dir / "dbt_project.yml"
    if not path.is_file():
        raise ConfigError(
            f"No dbt_project.yml in {project_dir.resolve()}. Pass --project-dir pointing at the "
            "dbt project (the folder that holds dbt_project.yml)."
        )
    data = _read_yaml(path)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path} must be a YAML mapping.")
    env = _make_environment()
    name = render(data.get("name"), f"{path.name}: name", env)
    profile = render(data.get("profile"), f"{path.name}: profile", env)
    if not name:
        raise ConfigError(f"{path} has no `name:`; dbt needs one too.")
    if not profile:
        raise ConfigError(f"{path} has no `profile:`; it names the profiles.yml entry to use.")
    target_path = os.environ.get("DBT_TARGET_PATH") or render(
        data.get("target-path", DEFAULT_TARGET_PATH), f"{path.name}: target-path", env
    )
    return DbtProject(
        root=project_dir,
        name=str(name),
        profile=str(profile),
        target_dir=project_dir / str(target_path),
    )


def resolve_profiles_dir(explicit: Path | None, project_dir: Path) -> Path:
    """dbt's order: --profiles-dir / DBT_PROFILES_DIR, then the project dir, then ~/.dbt."""
    if explicit is not None:
        return explicit
    if (project_dir / "profiles.yml").is_file():
        return project_dir
    return Path.home() / ".dbt"


def load_target(profiles_dir: Path, profile_name: str, target_name: str | None) -> Target:
    path = profiles_dir / "profiles.yml"
    if not path.is_file():
        raise ConfigError(
            f"No profiles.yml in {profiles_dir}. Pass --profiles-dir, set DBT_PROFILES_DIR, or put "
            "profiles.yml in the project dir (dbt looks in the same places)."
        )
    profiles = _read_yaml(path) or {}
    profile = profiles.get(profile_name) if isinstance(profiles, Mapping) else None
    if not isinstance(profile, Mapping):
        found = ", ".join(sorted(str(key) for key in profiles if key != "config")) or "none"
        raise ConfigError(
            f"{path} has no profile '{profile_name}' (named by `profile:` in dbt_project.yml). "
            f"Profiles found: {found}."
        )
    where = f"profiles.yml: {profile_name}"
    outputs = profile.get("outputs")
    if not isinstance(outputs, Mapping) or not outputs:
        raise ConfigError(f"{where} has no `outputs:`.")
    chosen = target_name or render(profile.get("target"), f"{where}.target")
    if not chosen:
        raise ConfigError(f"{where} has no default `target:`; pass --target.")
    output = outputs.get(chosen)
    if not isinstance(output, Mapping):
        raise ConfigError(
            f"{where} has no target '{chosen}' (from --target or the profile's `target:`). "
            f"Targets: {', '.join(sorted(map(str, outputs)))}."
        )
    settings = render(output, f"{where}.outputs.{chosen}")
    adapter = settings.get("type")
    if not adapter:
        raise ConfigError(f"{where}.outputs.{chosen} has no `type:`.")
    return Target(profile=profile_name, name=str(chosen), type=str(adapter), settings=settings)


def load_project_target(
    project_dir: Path, profiles_dir: Path | None, target_name: str | None
) -> tuple[DbtProject, Target]:
    """The dbt project and its profile's target, found the way dbt finds them from its flags."""
    project = load_project(project_dir)
    target = load_target(
        resolve_profiles_dir(profiles_dir, project_dir), project.profile, target_name
    )
    return project, target


def load_relations(
    project: DbtProject, target: Target, views: Iterable[str]
) -> dict[str, Relation]:
    """Map each contract view name to the relation dbt built for it, via target/manifest.json."""
    path = project.target_dir / "manifest.json"
    if not path.is_file():
        raise NotBuiltError(
            f"dbt manifest {path} not found. Run `dbt build --target {target.name}` in "
            f"{project.root.resolve()} first; the loader reads the views dbt builds."
        )
    try:
        manifest = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise NotBuiltError(f"{path} is not valid JSON ({error}); re-run `dbt build`.") from None
    built_for = manifest.get("metadata", {}).get("adapter_type")
    if built_for and built_for != target.type:
        raise NotBuiltError(
            f"{path} was built for a {built_for} target, but target '{target.name}' is "
            f"{target.type}. Run `dbt build --target {target.name}` first."
        )
    nodes = manifest.get("nodes", {})
    relations = {}
    for view in views:
        node = nodes.get(f"model.{project.name}.{view}")
        if node is None:
            raise NotBuiltError(
                f"Model {view} is not in {path}. Run `dbt build --target {target.name}` first "
                f"(the project '{project.name}' must define the contract view {view})."
            )
        relations[view] = Relation(
            database=node.get("database"),
            schema=node["schema"],
            identifier=node.get("alias") or node.get("name") or view,
            rendered=node.get("relation_name"),
        )
    return relations
