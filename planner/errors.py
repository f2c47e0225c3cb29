"""The planner's errors: each is one line for the user, mapped to an exit code at the CLI."""

from __future__ import annotations


class PlanError(Exception):
    """Base: the workflow cannot be planned.  ``str()`` is the line the user sees."""

    exit_code = 1


class ParseError(PlanError):
    """A document is not valid: names the file and the path inside it (``jobs[3].uses[0].type``)."""

    def __init__(self, source: str, path: str, message: str):
        self.source = source
        self.path = path
        self.message = message
        where = "%s: %s" % (source, path) if path else source
        line = "%s: %s" % (where, message)  # one line, whatever keys the path names
        super().__init__(line.replace("\r", "\\r").replace("\n", "\\n"))


class WorkflowError(PlanError):
    """The workflow is well formed but cannot be run: unknown job, cycle, duplicate id."""


class CatalogError(PlanError):
    """A catalog lacks what the workflow needs: a transformation, a replica, a site."""


class EngineError(PlanError):
    """The local engine cannot run the submit directory (missing, locked, corrupt state)."""
