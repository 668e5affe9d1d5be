"""The API's own resource of accounts: who the token speaks for (a script's first call, to check its token)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView


class TokenSerializer(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField()
    scope = serializers.CharField()
    expires_at = serializers.DateTimeField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="user.pk")
    email = serializers.EmailField(source="user.display_email")
    full_name = serializers.CharField(source="user.full_name")
    role = serializers.CharField(source="user.role")
    partner = serializers.SerializerMethodField(help_text="The partner's slug (partner staff and admins), or null.")
    token = TokenSerializer()

    def get_partner(self, me) -> str | None:
        return me["user"].partner.slug if me["user"].partner_id else None


class MeView(APIView):
    @extend_schema(responses=MeSerializer, summary="Who this token speaks for, and the token itself")
    def get(self, request):
        return Response(MeSerializer({"user": request.user, "token": request.auth}).data)
