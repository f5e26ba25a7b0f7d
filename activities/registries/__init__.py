"""Registries: CNAPS authorisations and SIRENE companies, from referential files or over HTTP."""

from activities.registries.checks import (
    MAX_RETRY_AFTER,
    REGISTRY_NON_RETRYABLE_ERRORS,
    Registries,
    RegistryActivities,
    RegistryErrorType,
    build_registries,
    cnaps_outcome,
    sirene_outcome,
)
from activities.registries.files import (
    CNAPS_COLUMNS,
    DEFAULT_CNAPS_FILE,
    DEFAULT_SIRENE_FILE,
    SIRENE_COLUMNS,
    CsvCnapsRegistry,
    CsvSireneRegistry,
    load_cnaps_file,
    load_sirene_file,
)
from activities.registries.records import (
    CnapsAuthorisation,
    CnapsRegistry,
    CompanyRecord,
    RegistryError,
    RegistryFileError,
    RegistryUnavailable,
    SireneRegistry,
)
from activities.registries.remote import (
    INSEE_KEY_HEADER,
    HttpCnapsRegistry,
    InseeSireneRegistry,
)

__all__ = [
    "CNAPS_COLUMNS",
    "DEFAULT_CNAPS_FILE",
    "DEFAULT_SIRENE_FILE",
    "INSEE_KEY_HEADER",
    "MAX_RETRY_AFTER",
    "REGISTRY_NON_RETRYABLE_ERRORS",
    "SIRENE_COLUMNS",
    "CnapsAuthorisation",
    "CnapsRegistry",
    "CompanyRecord",
    "CsvCnapsRegistry",
    "CsvSireneRegistry",
    "HttpCnapsRegistry",
    "InseeSireneRegistry",
    "Registries",
    "RegistryActivities",
    "RegistryError",
    "RegistryErrorType",
    "RegistryFileError",
    "RegistryUnavailable",
    "SireneRegistry",
    "build_registries",
    "cnaps_outcome",
    "load_cnaps_file",
    "load_sirene_file",
    "sirene_outcome",
]
