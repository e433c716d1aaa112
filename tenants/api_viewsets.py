"""The base of the API's viewsets over tenant-owned models (apart from the API kit in ``api_support``, which DRF's
settings import: a viewset there would import DRF's views, which import those settings)."""

from rest_framework.viewsets import GenericViewSet


class TenantViewSet(GenericViewSet):
    """A viewset over one tenant-owned model: ``scoped_queryset()`` runs inside the key's tenant scope; the schema
    generator (no tenant) gets an empty queryset of the model."""

    model = None

    def scoped_queryset(self):
        return self.model.objects.all()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model._base_manager.none()
        return self.scoped_queryset()
