"""Names of the single-value facts parsers emit in ``ParseResult.facts``.

A fact is a dict ``{"host", "name", "value", "origin", "source", "locator", "detail"}``:
``host`` the machine it is about (None: the artifact's host), ``origin`` where the value came
from (wmi_export, report, registry, event, file_name), ``locator`` what identifies its row or
line (``{"line": 12}``, ``{"row": 3}``), ``detail`` what to show as evidence (the row or line).
``analyzer.hosts`` turns them into :class:`analyzer.model.Fact` values of host profiles.
"""

# License-server side (Win32_TSLicenseServer, rds-lic-svr-chk, TSLSMembership.txt)
ACTIVATION_STATUS = "activation_status"          # "activated" | "not_activated" | "unknown"
LS_VERSION = "ls_version"                        # OS label of the license server: "2016", "2019" ...
LS_OS_BUILD = "ls_os_build"                      # int build when the export gives it
IN_TSLS_GROUP = "in_tsls_group"                  # bool: member of Terminal Server License Servers
TSLS_GROUP_MEMBERS = "tsls_group_members"        # list[str] members of that AD group
REPORT_SUMMARY = "report_summary"                # dict(cal_type, cal_version, installed, issued, availability)
LS_SERVICE_STATE = "ls_service_state"            # "running" | "stopped"

# Session-host side (Win32_TerminalServiceSetting exports, GracePeriod.txt, rds-lic-svr-chk)
GRACE_DAYS_LEFT = "grace_days_left"              # int DaysLeft at collection
LICENSING_MODE = "licensing_mode"                # int 2/4/5 (origin wmi_export)
LICENSE_SERVERS = "license_servers"              # list[str] (origin wmi_export)
CONNECTIVITY_STATUS = "connectivity_status"      # GetTStoLSConnectivityStatus name, e.g. "NOT_CONNECTABLE"
HAS_X509_CERTIFICATE = "has_x509_certificate"    # bool "ever connected to license server"
LS_AVAILABLE = "ls_available"                    # dict(server, available: bool, issuing_cals: bool)

# Either side
COMPUTER_NAME = "computer_name"                  # str, when an export names its machine
DOMAIN = "domain"                                # str DNS or NetBIOS domain
COLLECTED_AT = "collected_at"                    # datetime the export was made (a collection-time candidate)

# What a machine says of itself (MSRD-Collect <HOST>_SystemInfo.txt, systeminfo.exe; origin system_info):
# a hive's value wins where both exist (analyzer.hosts)
OS_PRODUCT = "os_product"                        # str "Microsoft Windows Server 2022 Standard"
OS_BUILD = "os_build"                            # int build
OS_UBR = "os_ubr"                                # int update build revision
INSTALLATION_TYPE = "installation_type"          # str "Server" | "Client" | "Server Core"
DOMAIN_ROLE = "domain_role"                      # Win32_ComputerSystem.DomainRole name: standalone_workstation,
                                                 # member_workstation, standalone_server, member_server,
                                                 # backup_domain_controller, primary_domain_controller
INSTALL_DATE = "install_date"                    # naive datetime, the machine's local time
LAST_BOOT = "last_boot"                          # naive datetime, the machine's local time
TIME_ZONE = "time_zone"                          # str "(UTC+01:00) Amsterdam, Berlin, ..."

# What an artifact covers (core.coverage): a registry artifact's subtrees, an event log's span
REGISTRY_COVERAGE = "registry_coverage"          # list[str] keys (key_ccs form) the artifact holds whole:
                                                 # "HKLM\\SYSTEM" for a hive, the exported key for a reg export
EVENT_LOG = "event_log"                          # dict(channel, first, last, records) of one .evtx
TSLS_DOMAIN = "tsls_domain"                      # str domain whose Terminal Server License Servers group was listed

ALL = {v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str)}
