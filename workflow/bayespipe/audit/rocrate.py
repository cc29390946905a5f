"""The version folder as a Workflow Run Crate (``ro-crate-metadata.json``), built from its manifest.

The crate's root is the version folder. The workflow (the ``Snakefile`` of the code snapshot in
``report/code-snapshot/``) is the main entity; the whole run is one ``CreateAction`` whose
instrument is that workflow, and every rule execution (job) is a ``CreateAction`` of its own
whose instrument is the rule's script (or Stan program), with its input and output files and
its params as ``PropertyValue`` objects. Software versions are ``SoftwareApplication`` entities.

Only the metadata file is written (the data files are already in place), so the crate is valid
as an attached crate of the folder it describes.

``bayespipe rocrate --validate`` checks it offline with ``rocrate_validate``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bayespipe.audit.rocrate_validate import VALIDATION_PROFILE, validate_crate
from bayespipe.io import atomic_path, read_json
from bayespipe.provenance import MANIFEST, ROCRATE
from bayespipe.versions import version_path

SNAPSHOT_DIR = "report/code-snapshot"
WORKFLOW_RUN_PROFILES = {
    "https://w3id.org/ro/wfrun/process/0.5": ("Process Run Crate", "0.5"),
    "https://w3id.org/ro/wfrun/workflow/0.5": ("Workflow Run Crate", "0.5"),
    "https://w3id.org/workflowhub/workflow-ro-crate/1.0": ("Workflow RO-Crate", "1.0"),
}
ENCODINGS = {
    ".json": "application/json",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".log": "text/plain",
    ".txt": "text/plain",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".html": "text/html",
    ".parquet": "application/vnd.apache.parquet",
    ".nc": "application/x-netcdf",
    ".py": "text/x-python",
    ".stan": "text/plain",
    ".yaml": "application/yaml",
    ".md": "text/markdown",
}
BIOSCHEMAS_WORKFLOW = "https://bioschemas.org/ComputationalWorkflow"
BIOSCHEMAS_PARAMETER = "https://bioschemas.org/FormalParameter"
# The project ships no licence file yet; the crate says so instead of inventing one.
LICENSE_NOTE = "No licence declared by the project; see the repository of the workflow."


def _file_properties(entry: dict) -> dict:
    props: dict[str, Any] = {"contentSize": str(entry["size"]), "sha256": entry["sha256"]}
    fmt = ENCODINGS.get(Path(entry["path"]).suffix)
    if fmt:
        props["encodingFormat"] = fmt
    return props


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


class _Builder:
    def __init__(self, version_dir: Path, manifest: dict):
        from rocrate.rocrate import ROCrate

        self.version_dir = version_dir
        self.manifest = manifest
        self.crate = ROCrate(gen_preview=False)
        self.files = {entry["path"]: entry for entry in manifest.get("files", [])}
        self.entities: dict[str, Any] = {}
        self.tools = {self._program_path(job) for job in manifest.get("jobs", [])} - {None}

    @staticmethod
    def _program_path(job: dict) -> str | None:
        program = job.get("stan_program") or job.get("script")
        return f"{SNAPSHOT_DIR}/{program['path']}" if program and program.get("path") else None

    # -- entities -------------------------------------------------------------------------
    def file(self, rel: str, types: list[str] | None = None, extra: dict | None = None):
        """The File entity of a path inside the version folder (created once)."""
        if rel in self.entities:
            return self.entities[rel]
        from rocrate.model.file import File

        props = _file_properties(self.files[rel]) if rel in self.files else {}
        props["name"] = rel
        if rel in self.tools:  # a rule's script or Stan program: the instrument of its jobs
            types = ["File", "SoftwareSourceCode"]
        if types:
            props["@type"] = types
        props.update(extra or {})
        entity = self.crate.add(File(self.crate, dest_path=rel, properties=props))
        self.entities[rel] = entity
        return entity

    def external_file(self, path: str, sha256: str | None):
        """A raw input outside the version folder, identified by its absolute file URI."""
        workdir = Path(self.manifest.get("workdir") or ".")
        full = Path(path) if Path(path).is_absolute() else workdir / path
        uri = full.resolve().as_uri()
        if uri not in self.entities:
            from rocrate.model.contextentity import ContextEntity

            props = {
                "@type": "File",
                "name": path,
                "description": "raw input outside the version folder",
            }
            if sha256:
                props["sha256"] = sha256
            self.entities[uri] = self.crate.add(ContextEntity(self.crate, uri, properties=props))
            self.crate.root_dataset.append_to(
                "hasPart", self.entities[uri]
            )  # data entities hang off the root
        return self.entities[uri]

    def input_entity(self, path: str, sha256: str | None):
        rel = self._inside(path)
        return self.file(rel) if rel in self.files else self.external_file(path, sha256)

    def _inside(self, path: str) -> str:
        """A recorded path (relative to the workdir) as a path relative to the version folder."""
        from bayespipe.audit.lineage import path_in_version

        return path_in_version(path, self.manifest) or path

    def context(self, identifier: str, props: dict):
        from rocrate.model.contextentity import ContextEntity

        if identifier not in self.entities:
            self.entities[identifier] = self.crate.add(
                ContextEntity(self.crate, identifier, properties=props)
            )
        return self.entities[identifier]

    def property_value(self, identifier: str, name: str, value: Any):
        return self.context(
            identifier, {"@type": "PropertyValue", "name": name, "value": _json_text(value)}
        )

    # -- sections -------------------------------------------------------------------------
    def root(self) -> None:
        crate, m = self.crate, self.manifest
        crate.name = f"bayespipe version {m['version']}"
        crate.description = (
            f"Results of the bayespipe workflow, version {m['version']} "
            f"(analyses: {', '.join(m.get('analyses', []))}), "
            "with the provenance of every file."
        )
        crate.datePublished = m.get("end_time") or m.get("start_time")
        crate.license = self.context(
            "#license", {"@type": "CreativeWork", "name": "licence", "description": LICENSE_NOTE}
        )
        # Workflow Run Crate 0.5 is defined on RO-Crate 1.1; the rocrate package writes 1.3 (a
        # superset of 1.1's vocabulary, and the context it ships), so the descriptor names both.
        crate.metadata["conformsTo"] = [
            {"@id": f"https://w3id.org/ro/crate/{v}"} for v in ("1.1", crate.version)
        ] + [{"@id": "https://w3id.org/workflowhub/workflow-ro-crate/1.0"}]
        for uri, (name, version) in WORKFLOW_RUN_PROFILES.items():
            profile = self.context(uri, {"@type": "CreativeWork", "name": name, "version": version})
            crate.root_dataset.append_to("conformsTo", profile)

    def software(self) -> list:
        apps = []
        for name, version in sorted(self.manifest.get("software", {}).items()):
            if version is None:
                continue
            ident = f"#software-{name.replace(' ', '-').replace('(', '').replace(')', '')}"
            apps.append(
                self.context(
                    ident,
                    {"@type": "SoftwareApplication", "name": name, "softwareVersion": version},
                )
            )
        return apps

    def workflow(self, software: list):
        from rocrate.model.computationalworkflow import ComputationalWorkflow
        from rocrate.model.computerlanguage import get_lang

        rel = f"{SNAPSHOT_DIR}/Snakefile"
        props = {"name": "bayespipe Snakemake workflow", "softwareRequirements": software}
        if rel in self.files:
            props.update(_file_properties(self.files[rel]))
        lang = self.crate.add(
            get_lang(
                self.crate, "snakemake", version=self.manifest.get("software", {}).get("snakemake")
            )
        )
        # The 1.3 context maps ComputationalWorkflow to bioschemas.org/terms/; Workflow RO-Crate 1.0
        # (RO-Crate 1.1) expects bioschemas.org/ComputationalWorkflow: name both IRIs.
        props["@type"] = [
            "File",
            "SoftwareSourceCode",
            "ComputationalWorkflow",
            BIOSCHEMAS_WORKFLOW,
        ]
        workflow = self.crate.add(
            ComputationalWorkflow(self.crate, dest_path=rel, properties=props)
        )
        workflow.lang = lang
        self.crate.mainEntity = workflow
        self.entities[rel] = workflow
        return workflow

    def formal_parameter(self, ident: str, name: str, additional_type: str, example) -> Any:
        parameter = self.context(
            ident,
            {
                "@type": ["FormalParameter", BIOSCHEMAS_PARAMETER],
                "name": name,
                "additionalType": additional_type,
                "conformsTo": {
                    "@id": "https://bioschemas.org/profiles/FormalParameter/1.0-RELEASE"
                },
                "workExample": example,
            },
        )
        example.append_to("exampleOfWork", parameter)
        return parameter

    def run_action(self, workflow) -> None:
        m = self.manifest
        config = m.get("config", {})
        inputs, objects = [], []
        for key, value in sorted(config.items()):
            pv = self.property_value(f"#param-{key}", key, value)
            objects.append(pv)
            kind = (
                "Text"
                if isinstance(value, (dict, list, str)) or value is None
                else type(value).__name__.capitalize()
            )
            kind = {"Bool": "Boolean", "Int": "Integer", "Float": "Float"}.get(kind, kind)
            inputs.append(self.formal_parameter(f"#input-config-{key}", key, kind, pv))
        for item in self._raw_inputs():
            entity = self.external_file(item["path"], item["sha256"])
            objects.append(entity)
            inputs.append(
                self.formal_parameter(f"#input-file-{item['path']}", item["path"], "File", entity)
            )
        outputs, results = [], []
        for entry in self.files.values():
            if entry.get("kind") != "output":
                continue
            entity = self.file(entry["path"])
            results.append(entity)
            outputs.append(
                self.formal_parameter(f"#output-{entry['path']}", entry["path"], "File", entity)
            )
        workflow["input"] = inputs
        workflow["output"] = outputs
        action = self.crate.add_action(
            workflow,
            identifier=f"#run-{m['version']}",
            object=objects,
            result=results,
            properties={
                "@type": "CreateAction",
                "name": f"bayespipe run of version {m['version']}",
                "startTime": m.get("start_time"),
                "endTime": m.get("end_time"),
                "actionStatus": {"@id": "http://schema.org/CompletedActionStatus"},
                "description": "command line: " + " ".join(m.get("command_line", [])),
            },
        )
        self.crate.root_dataset.append_to("mentions", action)

    def _raw_inputs(self) -> list[dict]:
        seen, raw = set(), []
        for job in self.manifest.get("jobs", []):
            for item in job.get("inputs", []):
                if self._inside(item["path"]) in self.files or item["path"] in seen:
                    continue
                seen.add(item["path"])
                raw.append(item)
        return raw

    def job_actions(self) -> None:
        for job in self.manifest.get("jobs", []):
            tool = self._tool(job)
            objects = [self.input_entity(i["path"], i["sha256"]) for i in job.get("inputs", [])]
            stem = Path(job["job"]).name[: -len(".job.json")]
            for key, value in sorted(job.get("params", {}).items()):
                objects.append(self.property_value(f"#job-{stem}-param-{key}", key, value))
            results = [self.file(p) for p in job.get("outputs", []) if p in self.files]
            results += [
                self.file(p)
                for p in (job.get("log"), job.get("benchmark"), job["job"])
                if p and p in self.files
            ]
            props = {
                "@type": "CreateAction",
                "name": f"rule {job['rule']}",
                "startTime": job.get("start_time"),
                "endTime": job.get("end_time"),
                "actionStatus": {"@id": "http://schema.org/CompletedActionStatus"},
                "description": f"Snakemake job {stem} (record {job['job']}), "
                f"{job.get('threads')} thread(s) on {job.get('host')}",
            }
            action = self.crate.add_action(
                tool, identifier=f"#job-{stem}", object=objects, result=results, properties=props
            )
            self.crate.root_dataset.append_to("mentions", action)

    def _tool(self, job: dict):
        rel = self._program_path(job)
        if rel in self.files:
            return self.file(rel)
        return self.context(
            f"#rule-{job['rule']}", {"@type": "SoftwareApplication", "name": f"rule {job['rule']}"}
        )

    def build(self):
        self.root()
        software = self.software()
        workflow = self.workflow(software)
        self.run_action(workflow)
        self.job_actions()
        for rel in sorted(self.files):  # every file of the folder is part of the crate
            self.file(rel)
        return self.crate


def build_crate(version_dir: str | Path, manifest: dict | None = None):
    """The ``rocrate.ROCrate`` describing ``version_dir`` (its manifest must exist)."""
    version_dir = Path(version_dir)
    manifest = manifest or read_json(version_dir / MANIFEST)
    return _Builder(version_dir, manifest).build()


def write_crate(version_dir: str | Path, manifest: dict | None = None) -> Path:
    """Write ``ro-crate-metadata.json`` into ``version_dir`` atomically; returns its path."""
    version_dir = Path(version_dir)
    crate = build_crate(version_dir, manifest)
    target = version_dir / ROCRATE
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(crate.metadata.generate(), indent=2) + "\n")
    return target


def add_command(commands) -> None:
    """``bayespipe rocrate VERSION [--validate]``.

    (re)write the crate, optionally validate it offline.
    """
    parser = commands.add_parser(
        "rocrate", help="write ro-crate-metadata.json of a version; --validate checks it offline"
    )
    parser.add_argument("version_dir", type=version_path, help="a version folder, id or tag")
    parser.add_argument(
        "--validate",
        action="store_true",
        help=f"validate with roc-validator ({VALIDATION_PROFILE}), offline",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="validate the existing crate without rewriting it"
    )
    parser.set_defaults(handler=_command)


def _command(args) -> int:
    import sys
    import tempfile

    if not (args.version_dir / MANIFEST).is_file():
        print(
            f"bayespipe rocrate: {args.version_dir}: not a complete version folder (no {MANIFEST})",
            file=sys.stderr,
        )
        return 2
    if not args.no_write:
        print(f"wrote {write_crate(args.version_dir)}")
    if not args.validate:
        return 0
    with tempfile.TemporaryDirectory(prefix="bayespipe-rocrate-") as cache:
        failures = validate_crate(args.version_dir, Path(cache) / "http-cache")
    for failure in failures:
        print(failure)
    print(
        f"{VALIDATION_PROFILE}: "
        f"{'valid' if not failures else f'{len(failures)} failed requirements'}"
    )
    return 0 if not failures else 1
