"""Load the demo data of the embedded default, idempotently (running it twice changes nothing)."""

import csv
import datetime
import io

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from core.audit import audit_record
from core.emails import normalize_email
from directory_sync.models import DirectoryConnection, DirectoryUser, DirectoryUserStatus, SourceKind
from directory_sync.services.runs import directory_csv_import
from partners.models import (
    AccountDomain,
    AccountSettings,
    Agreement,
    AgreementVersion,
    AuthMethod,
    Partner,
    PartnerKind,
    TwoFactorPolicy,
)
from partners.services import agreement_signer_set, agreement_version_publish

DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105 - printed for the demo; never used outside seed_demo
DEMO_VERSION = "2027.1"  # the agreement version published for MSPs, to accept in the walk-through
DEMO_AGREEMENT_PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
    b"/Resources << /Font << /F1 5 0 R >> >> >> endobj\n"
    b"4 0 obj << /Length 62 >> stream\nBT /F1 18 Tf 72 770 Td (Demo partner agreement 2027.1) Tj ET\n"
    b"endstream endobj\n5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)

VENDOR_PEOPLE = [
    ("admin@vendor.example", "Ada Admin", Role.ADMIN),
    ("am@vendor.example", "Alex Morgan", Role.ACCOUNT_MANAGER),
]

PARTNERS = [
    {
        "slug": "demo-msp",
        "name": "Demo MSP Ltd",
        "kind": PartnerKind.MSP,
        "domain": "msp.example",
        "people": [
            ("pat.admin@msp.example", "Pat Adams", Role.PARTNER_ADMIN),
            ("sam.staff@msp.example", "Sam Stone", Role.PARTNER_STAFF),
        ],
        # (name, status, primary, aliases, forwarding): loaded as a CSV upload would be.
        "directory": [
            ("Pat Adams", DirectoryUserStatus.ACTIVE, "Pat.Admin@msp.example", ["pat@msp.example"], ""),
            ("Sam Stone", DirectoryUserStatus.ACTIVE, "Sam.Staff@msp.example", ["sam@msp.example"],
             "sam.stone@msp-mail.example"),
            ("Jo Newman", DirectoryUserStatus.ACTIVE, "Jo.Newman@msp.example",
             ["jo@msp.example", "support@msp.example"], "jo.newman@msp-mail.example"),
            ("Kim Lee", DirectoryUserStatus.ACTIVE, "Kim.Lee@msp.example", ["kim@msp.example"], ""),
            ("Olly Oldtimer", DirectoryUserStatus.DISABLED, "Olly.Oldtimer@msp.example", [], ""),
        ],
    },
    {
        "slug": "demo-reseller",
        "name": "Demo Reseller GmbH",
        "kind": PartnerKind.RESELLER,
        "language": "de",  # writes to its people in German
        "domain": "reseller.example",
        "people": [
            ("rita.admin@reseller.example", "Rita Reiter", Role.PARTNER_ADMIN),
            ("ralf.staff@reseller.example", "Ralf Rot", Role.PARTNER_STAFF),
        ],
        "directory": [],
    },
]


class Command(BaseCommand):
    help = "Create the demo partners, people and directory of the embedded default (idempotent)."

    def handle(self, *args, **options):
        with transaction.atomic():
            created = self._seed()
        if created:
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded ({created} records created)."))
        else:
            self.stdout.write("Demo data already present; nothing changed.")
        self._print_sign_ins()

    def _seed(self) -> int:
        created = 0
        users = {}
        for email, name, role in VENDOR_PEOPLE:
            users[email], was_created = self._user(email=email, name=name, role=role, partner=None)
            created += was_created
        manager = users["am@vendor.example"]
        for spec in PARTNERS:
            partner, was_created = Partner.objects.get_or_create(slug=spec["slug"], defaults={
                "name": spec["name"], "kind": spec["kind"], "account_manager": manager,
                "language": spec.get("language", "en"),
            })
            created += was_created
            _, was_created = AccountSettings.objects.get_or_create(
                partner=partner,
                defaults={
                    "auth_method": AuthMethod.CLOUD_PASSWORD,
                    "two_factor_policy": TwoFactorPolicy.OPTIONAL,
                    "reset_contact": manager.email,
                },
            )
            created += was_created
            _, was_created = AccountDomain.objects.get_or_create(partner=partner, domain=spec["domain"])
            created += was_created
            _, was_created = Agreement.objects.get_or_create(
                partner=partner,
                version="2026.1",
                defaults={
                    "signed_at": timezone.now() - datetime.timedelta(days=30),
                    "signed_by_name": spec["people"][0][1],
                    "signed_by_email": spec["people"][0][0],
                    "recorded_by": users["admin@vendor.example"],
                },
            )
            created += was_created
            created += self._directory(partner=partner, entries=spec["directory"])
            for email, name, role in spec["people"]:
                user, was_created = self._user(email=email, name=name, role=role, partner=partner)
                created += was_created
                person = DirectoryUser.objects.filter(partner=partner, addresses__address=user.email).first()
                if person and user.directory_user_id is None:
                    user.directory_user = person
                    user.save(update_fields=["directory_user"])
        created += self._agreement_renewal(admin=users["admin@vendor.example"])
        if created:
            audit_record(actor=None, action="demo.seeded", data={"created": created})
        return created

    def _agreement_renewal(self, *, admin: User) -> int:
        """The walk-through's renewal: each demo partner admin is an authorised signer, and a newer agreement
        version is published for MSPs (Pat Adams accepts it on /partners/demo-msp/agreement/)."""
        created = 0
        for spec in PARTNERS:
            partner = Partner.objects.get(slug=spec["slug"])
            for email, _, role in spec["people"]:
                if role == Role.PARTNER_ADMIN:
                    signer = User.objects.get(email=normalize_email(email))
                    created += agreement_signer_set(partner=partner, user=signer, authorised=True, actor=admin)
        if not AgreementVersion.objects.filter(partner_kind=PartnerKind.MSP, label=DEMO_VERSION).exists():
            agreement_version_publish(partner_kind=PartnerKind.MSP, label=DEMO_VERSION, valid_for_days=365,
                                      document=ContentFile(DEMO_AGREEMENT_PDF, name="demo-agreement.pdf"), actor=admin)
            created += 1
        return created

    def _user(self, *, email: str, name: str, role: str, partner: Partner | None) -> tuple[User, bool]:
        user = User.objects.filter(email=normalize_email(email)).first()
        if user:
            return user, False
        is_admin = role == Role.ADMIN
        user = User.objects.create_user(
            email, DEMO_PASSWORD, full_name=name, role=role, partner=partner, is_staff=is_admin, is_superuser=is_admin
        )
        return user, True

    def _directory(self, *, partner: Partner, entries: list) -> int:
        """Load the demo directory through the CSV import, so it is written exactly as uploads are."""
        if not entries:
            return 0
        connection, was_created = DirectoryConnection.objects.get_or_create(
            partner=partner, defaults={"kind": SourceKind.CSV}
        )
        rows = io.StringIO()
        writer = csv.writer(rows)
        writer.writerow(["name", "primary", "aliases", "forwarding", "enabled"])
        for name, status, primary, aliases, forwarding in entries:
            enabled = "no" if status == DirectoryUserStatus.DISABLED else "yes"
            writer.writerow([name, primary, ";".join(aliases), forwarding, enabled])
        run = directory_csv_import(connection=connection, data=rows.getvalue().encode())
        return was_created + run.created + run.updated

    def _print_sign_ins(self) -> None:
        self.stdout.write(f"\nDemo sign-ins (password for all: {DEMO_PASSWORD}):")
        rows = [(email, role.label, "vendor") for email, _, role in VENDOR_PEOPLE]
        for spec in PARTNERS:
            rows += [(email, role.label, spec["slug"]) for email, _, role in spec["people"]]
        for email, role, where in rows:
            self.stdout.write(f"  {email:<32} {role:<16} {where}")
