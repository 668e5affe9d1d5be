"""Migration operations for models that move from one app to another and keep their tables.

A moved model keeps its table (`db_table`), so its rows never move: the migrations change only
Django's idea of which app owns it (`SeparateDatabaseAndState` with state operations alone).
What does live in the database under the app's name is the content type, which permissions,
group grants and the admin's history point at: `content_types_move` relabels those rows, so
that they stay attached instead of being replaced by new, empty ones.

`migrate` run app by app can leave a content type under the new label already: post_migrate
creates one for every model of the state it ends in. Such a one is new and holds nothing worth
keeping, while the old one holds the history: the old one wins, and the new one (with its
permissions) is deleted before the relabel. A migration using this depends on contenttypes,
auth and admin, whose rows it touches.
"""

from django.db import migrations


def content_types_move(*, old_app: str, new_app: str, models: tuple[str, ...]) -> migrations.RunPython:
    """Relabel the content types of `models` (lower-case model names) from `old_app` to `new_app`, and back."""

    def relabel(source: str, target: str):
        def run(apps, schema_editor):
            alias = schema_editor.connection.alias
            content_types = apps.get_model("contenttypes", "ContentType").objects.using(alias)
            permissions = apps.get_model("auth", "Permission").objects.using(alias)
            log_entries = apps.get_model("admin", "LogEntry").objects.using(alias)
            for model in models:
                if not content_types.filter(app_label=source, model=model).exists():
                    continue  # a fresh database: post_migrate creates the content types later
                # Explicitly, not by cascade: historical models do not always know their reverse relations.
                fresh = content_types.filter(app_label=target, model=model)
                permissions.filter(content_type__in=fresh).delete()
                log_entries.filter(content_type__in=fresh).update(content_type=None)
                fresh.delete()
                content_types.filter(app_label=source, model=model).update(app_label=target)

        return run

    return migrations.RunPython(relabel(old_app, new_app), relabel(new_app, old_app))
