"""Audit registration: django-auditlog on configuration and workflow models, never on secrets.

auditlog writes each changed field's value into its log; for an encrypted field that is the decrypted value.
``register`` therefore always excludes encrypted fields, plus the secret fields a model names.
"""

from auditlog.registry import auditlog

from .crypto import is_encrypted_field


def register(model, *, secret_fields=(), exclude_fields=()):
    encrypted = [f.name for f in model._meta.concrete_fields if is_encrypted_field(f)]
    excluded = sorted({*encrypted, *secret_fields, *exclude_fields})
    auditlog.register(model, exclude_fields=excluded)
    return model


def excluded_fields(model):
    """Return the fields auditlog leaves out of the model's diffs (for tests and the admin)."""
    return set(auditlog.get_model_fields(model).get("exclude_fields") or ())
