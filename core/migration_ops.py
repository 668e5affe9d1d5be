"""Migration operations for models that move from one app to another and keep their tables.

A moved model keeps its table (`db_table`), so its rows never move: the migrations change only
Django's idea of which app owns it (`SeparateDatabaseAndState` with state operations alone).
What does live in the database under the app's name is the content type, which permissions,
group grants and the admin's history point at: `content_types_move` relabels those rows, so
that they stay attached instead of being replaced by new, empty ones.
"""

from django.db import migrations


def content_types_move(*, old_app: str, new_app: str, models: tuple[str, ...]) -> migrations.RunPython:
    """Relabel the content types of `models` (lower-case model names) from `old_app` to `new_app`, and back."""

    def relabel(source: str, target: str):
        def run(apps, schema_editor):
            content_type = apps.get_model("contenttypes", "ContentType")
            rows = content_type.objects.using(schema_editor.connection.alias)
            for model in models:
                if not rows.filter(app_label=target, model=model).exists():
                    rows.filter(app_label=source, model=model).update(app_label=target)

        return run

    return migrations.RunPython(relabel(old_app, new_app), relabel(new_app, old_app))
