"""What a live Asterisk has loaded of vaxeld's rendering, read over AMI, and the reloads
`vaxeld apply` asks for. Rights (the apply account's): ``Reload`` needs write = system,
``ShowDialPlan`` and ``Getvar`` write = reporting; ``QueueStatus`` needs none."""

from __future__ import annotations

from vaxeld.ami.blocking import AmiCommandError, BlockingAmi
from vaxeld.render.inventory import Inventory, Queue, Steps

# The modules whose configuration vaxeld renders: the dialplan, then the queues.
RELOADED_MODULES = ("pbx_config", "app_queue")


def reload_rendered(ami: BlockingAmi) -> None:
    """Reload the dialplan and the queues (settings, members, rules)."""
    for module in RELOADED_MODULES:
        reply = ami.action("Reload", [("Module", module)])
        if reply.response != "Success":
            raise AmiCommandError(f"Reload {module}: {reply.get('Message') or 'refused'}")


def live_inventory(ami: BlockingAmi, expected: Inventory) -> Inventory:
    """The contexts, globals and queues Asterisk holds, as far as they concern vaxeld:
    every context named vaxeld-*, the globals and queues the rendering names, and each
    queue's static members (agents logged in with `vaxeld agent login` are not part of
    a rendering)."""
    contexts: dict[str, Steps] = {}
    items = ami.list_action("ShowDialPlan", "ShowDialPlanComplete")
    for m in items:
        if m.event != "ListDialplan":
            continue
        context = m.get("Context")
        if not context.startswith("vaxeld-"):
            continue
        steps = contexts.setdefault(context, {})
        include = m.get("IncludeContext")
        if include:
            steps[("include", 0)] = include
        elif m.get("Priority").isdigit():
            steps[(m.get("Extension"), int(m.get("Priority")))] = m.get("Application")
    globals_ = {}
    for name in expected.globals:
        reply = ami.action("Getvar", [("Variable", name)])
        if reply.response == "Success" and reply.get("Value"):
            globals_[name] = reply.get("Value")
    queues: dict[str, Queue] = {}
    members: dict[str, set[tuple[str, int, str]]] = {}
    for m in ami.list_action("QueueStatus", "QueueStatusComplete"):
        name = m.get("Queue")
        if m.event == "QueueParams":
            settings = {"strategy": m.get("Strategy"), "servicelevel": m.get("ServiceLevel")}
            queues[name] = Queue(settings)
            members.setdefault(name, set())
        elif m.event == "QueueMember" and m.get("Membership") == "static":
            penalty = int(m.get("Penalty")) if m.get("Penalty").isdigit() else -1
            members.setdefault(name, set()).add((m.get("Location"), penalty, m.get("Name")))
    wanted = {
        name: Queue(q.settings, frozenset(members.get(name, ())))
        for name, q in queues.items()
        if name in expected.queues
    }
    return Inventory(contexts, globals_, wanted)
