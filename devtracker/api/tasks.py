"""Task updates from the services that own tasks."""
from ..auth import current_principal
from ..errors import ok
from ..schemas.task import TaskUpdateBodySchema, TaskUpdateSchema
from ..services.tasks import publish_task_update
from .blueprint import bp
from .endpoint import endpoint


@bp.post("/task/update")
@endpoint("Publish a task update to its viewers and owner", body=TaskUpdateBodySchema(),
          response=TaskUpdateSchema, idempotent=True, tags=("tasks",))
def task_update(body, idempotency):
    """Recorded as activity; `task:updated` reaches each socket in the task room or of the owner once."""
    return ok(publish_task_update(current_principal(), body, idempotency))
