"""Agreement documents move out of MEDIA_ROOT (served under DEBUG, by their uploaded names) into private storage.

Each existing file is copied to PRIVATE_MEDIA_ROOT under a random name and the public copy is deleted
once the migration has committed. Nothing is refused silently: a file that is not a PDF by content is
kept (under a random name with no .pdf suffix) and flagged `not_pdf`, so it is never served; a row
whose file is not on disk keeps its name and is flagged `missing`. Every flagged row is logged, and
the admin shows the flag on the agreement.
"""

import logging
import uuid

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage
from django.db import migrations, models, transaction

import partners.storage

logger = logging.getLogger("partners.migrations")

PDF_MAGIC = b"%PDF-"  # frozen here: a migration must not change when the app's check does


def _storages() -> tuple[FileSystemStorage, FileSystemStorage]:
    public = FileSystemStorage(location=settings.MEDIA_ROOT)
    private = FileSystemStorage(location=settings.PRIVATE_MEDIA_ROOT, file_permissions_mode=0o600,
                                directory_permissions_mode=0o700)
    return public, private


def _move(source: FileSystemStorage, target: FileSystemStorage, name: str, new_name,
          using: str) -> tuple[str, bool] | None:
    """Copy `name` into `target` as new_name(is_pdf), deleting the original once the migration commits;
    (saved name, is_pdf), or None when there is no such file."""
    try:
        opened = source.open(name, "rb")
    except (OSError, SuspiciousFileOperation):
        return None
    with opened:
        is_pdf = opened.read(len(PDF_MAGIC)) == PDF_MAGIC
        opened.seek(0)
        saved = target.save(new_name(is_pdf), opened)
    # robust: a copy left behind (logged) must not fail a migration that has already committed.
    transaction.on_commit(lambda: source.delete(name), using=using, robust=True)
    return saved, is_pdf


def documents_to_private_storage(apps, schema_editor):
    """Move every stored agreement document into private storage under a random name, flagging what fails."""
    Agreement = apps.get_model("partners", "Agreement")
    using = schema_editor.connection.alias
    public, private = _storages()
    counts = {"moved": 0, "not_pdf": 0, "missing": 0}
    for agreement in Agreement.objects.using(using).exclude(document="").order_by("pk"):
        old = agreement.document.name
        year = agreement.signed_at.year
        moved = _move(public, private, old,
                      lambda is_pdf, year=year: f"agreements/{year}/{uuid.uuid4().hex}{'.pdf' if is_pdf else ''}",
                      using)
        rows = Agreement.objects.using(using).filter(pk=agreement.pk)
        if moved is None:
            rows.update(document_problem="missing")
            counts["missing"] += 1
            logger.warning("Agreement %s (partner %s, v%s): its document %s is not in MEDIA_ROOT; flagged as missing.",
                           agreement.pk, agreement.partner_id, agreement.version, old)
            continue
        new, is_pdf = moved
        rows.update(document=new, document_problem="" if is_pdf else "not_pdf")
        counts["moved"] += 1
        if not is_pdf:
            counts["not_pdf"] += 1
            logger.warning("Agreement %s (partner %s, v%s): its document %s is not a PDF; kept unserved as %s in "
                           "PRIVATE_MEDIA_ROOT and flagged.", agreement.pk, agreement.partner_id, agreement.version,
                           old, new)
    if any(counts.values()):
        logger.warning("Agreement documents: %(moved)d moved to private storage, %(not_pdf)d of them not a PDF "
                       "(flagged), %(missing)d missing (flagged).", counts)


def documents_to_public_storage(apps, schema_editor):
    """The way back: documents return to MEDIA_ROOT under their random names, and the flags go."""
    Agreement = apps.get_model("partners", "Agreement")
    using = schema_editor.connection.alias
    public, private = _storages()
    for agreement in Agreement.objects.using(using).exclude(document="").order_by("pk"):
        rows = Agreement.objects.using(using).filter(pk=agreement.pk)
        if agreement.document_problem != "missing":
            name = agreement.document.name
            moved = _move(private, public, name, lambda is_pdf, name=name: name, using)
            if moved is not None:
                rows.update(document=moved[0])
        rows.update(document_problem="")


class Migration(migrations.Migration):

    dependencies = [
        ('partners', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='agreement',
            name='document_problem',
            field=models.CharField(blank=True, choices=[('not_pdf', 'Not a PDF (kept, not served)'), ('missing', 'File not found')], help_text='Set when a document stored before the PDF check failed it; such a document is not served.', max_length=16),
        ),
        migrations.AlterField(
            model_name='agreement',
            name='document',
            field=models.FileField(blank=True, storage=partners.storage.agreement_storage, upload_to=partners.storage.agreement_document_name),
        ),
        migrations.AddConstraint(
            model_name='agreement',
            constraint=models.CheckConstraint(condition=models.Q(('document_problem', ''), models.Q(('document', ''), _negated=True), _connector='OR'), name='agreement_document_problem_needs_document'),
        ),
        migrations.RunPython(documents_to_private_storage, documents_to_public_storage, elidable=False),
    ]
