"""The events Windows writes, as the forge needs them: licensing events of session hosts and
license servers in the form each Windows version logs them, service-control events, and
unrelated System noise.

Forms (RDS_LICENSING.md 1.1): termsrv.dll up to Server 2016 (build 14393) logs licensing
events as classic events of source ``TermService`` in the System log with their low 16 bits
(1128) and Qualifiers 0xC000-style severity bits; Server 2019 and later log the manifest form
(0xC000 + id: 50280) in ``Microsoft-Windows-TerminalServices-RemoteConnectionManager/Admin``.
Messages of the reference: RDS_LICENSING.md 1.2 and 1.3.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Optional

from rdsla.sample_data.forge.evtx_writer import EventRecord

RCM = "Microsoft-Windows-TerminalServices-RemoteConnectionManager"
RCM_GUID = "{C76BAA63-AE81-421C-B425-340B4B24157F}"
RCM_ADMIN = RCM + "/Admin"
LIC = "Microsoft-Windows-TerminalServices-Licensing"
LIC_GUID = "{4D5AE6A1-C7C8-4E6D-B840-4D8080B42E1B}"
LIC_ADMIN = LIC + "/Admin"
SCM = "Service Control Manager"
SCM_GUID = "{555908D1-A6D7-4695-8E1E-26931D2012F4}"
LOCAL_SERVICE, NETWORK_SERVICE, SYSTEM_SID = "S-1-5-19", "S-1-5-20", "S-1-5-18"

# Session-host licensing events by legacy id: (level, data names of the manifest form)
RCM_LICENSING = {
    1004: 2, 1011: 4, 1028: 2, 1043: 2, 1061: 2, 1068: 3, 1069: 2,
    1128: 3, 1129: 3, 1130: 3, 1131: 2, 1132: 2, 1133: 2,
    1062: 2, 1063: 2, 1064: 2,       # 50214-50216: Entra ID (AAD) licensing lookup / validation failed
}
MANIFEST_FROM_BUILD = 17134   # 10.0.17134 and later log 0xC000 + id (RDS_LICENSING.md 1.1)


def rcm_licensing_event(legacy_id: int, when: datetime, computer: str, os_build: int,
                        params: list[str] | None = None) -> EventRecord:
    """One session-host licensing event in the form the host's Windows build writes it."""
    level = RCM_LICENSING[legacy_id]
    params = params or []
    if os_build >= MANIFEST_FROM_BUILD and legacy_id not in (1004, 1011, 1068, 1069):
        return EventRecord(provider=RCM, provider_guid=RCM_GUID, event_id=0xC000 + legacy_id, time=when,
                           channel=RCM_ADMIN, computer=computer, level=level, keywords=0x4000000000000000,
                           process_id=1204, thread_id=2210, user_sid=NETWORK_SERVICE,
                           data={f"param{i + 1}": p for i, p in enumerate(params)})
    if os_build >= MANIFEST_FROM_BUILD:     # 1004/1011 (Operational), 1068/1069 (Admin) keep their number
        channel = RCM + "/Operational" if legacy_id in (1004, 1011) else RCM_ADMIN
        return EventRecord(provider=RCM, provider_guid=RCM_GUID, event_id=legacy_id, time=when,
                           channel=channel, computer=computer, level=level, keywords=0x4000000000000000,
                           process_id=1204, thread_id=2210, user_sid=NETWORK_SERVICE,
                           data={f"param{i + 1}": p for i, p in enumerate(params)})
    qualifiers = {2: 0xC000, 3: 0x8000, 4: 0x4000}[level]
    return EventRecord(provider=RCM, event_source_name="TermService", event_id=legacy_id, qualifiers=qualifiers,
                       time=when, channel="System", computer=computer, level=level, keywords=0x80000000000000,
                       data=list(params))


def licensing_event(event_id: int, when: datetime, computer: str, level: int, params: list[str] | None = None,
                    channel: str = "System") -> EventRecord:
    """A license-server (TermServLicensing) event, classic form in the System log."""
    qualifiers = {1: 0xC000, 2: 0xC000, 3: 0x8000, 4: 0x4000}[level]
    return EventRecord(provider=LIC, event_source_name="TermServLicensing", event_id=event_id, qualifiers=qualifiers,
                       time=when, channel=channel, computer=computer, level=level, keywords=0x80000000000000,
                       data=list(params or []))


LSM = "Microsoft-Windows-TerminalServices-LocalSessionManager"
LSM_GUID = "{5D896912-022D-40AA-A3A8-4FA5515C76D7}"
LSM_OPERATIONAL = LSM + "/Operational"
RCM_OPERATIONAL = RCM + "/Operational"
LIC_OPERATIONAL = LIC + "/Operational"
# Where the license server writes each of its events: event 20 goes to TerminalServices-Licensing/
# Operational (RDS_LICENSING.md 0a); the others of section 1.3 to System (the examples of [S3], [S25]),
# the service's own start (0) to Operational.
LS_OPERATIONAL_IDS = (0, 20)


def ls_event(event_id: int, when: datetime, computer: str, level: int, params: list[str] | None = None) -> EventRecord:
    """A license-server event in the channel Windows writes it to."""
    return licensing_event(event_id, when, computer, level, params,
                           channel=LIC_OPERATIONAL if event_id in LS_OPERATIONAL_IDS else "System")


def session_logon(when: datetime, computer: str, user: str, session: int, address: str,
                  disconnect_after: Optional[timedelta] = None) -> list[EventRecord]:
    """A Remote Desktop connection that got in: RCM 1149 "User authentication succeeded" (RCM/
    Operational), LSM 21 "Session logon succeeded" and, later, LSM 23 "Session logoff succeeded"
    (LocalSessionManager/Operational) or, with ``disconnect_after``, LSM 24 "Session has been
    disconnected" that long after the logon. User data as the manifests name it (EventXML, Event_NS)."""
    domain, _, name = user.rpartition("\\")
    return [
        EventRecord(provider=RCM, provider_guid=RCM_GUID, event_id=1149, time=when, channel=RCM_OPERATIONAL,
                    computer=computer, level=4, keywords=0x1000000000000000, process_id=1204, thread_id=3310,
                    user_sid=NETWORK_SERVICE,
                    user_data=("EventXML", "Event_NS", {"Param1": name, "Param2": domain, "Param3": address})),
        EventRecord(provider=LSM, provider_guid=LSM_GUID, event_id=21, time=when + timedelta(seconds=4),
                    channel=LSM_OPERATIONAL, computer=computer, level=4, keywords=0x1000000000000000,
                    process_id=988, thread_id=4420, user_sid=SYSTEM_SID,
                    user_data=("EventXML", "Event_NS", {"User": user, "SessionID": str(session), "Address": address})),
        EventRecord(provider=LSM, provider_guid=LSM_GUID, event_id=23, time=when + timedelta(hours=3, minutes=session),
                    channel=LSM_OPERATIONAL, computer=computer, level=4, keywords=0x1000000000000000,
                    process_id=988, thread_id=4420, user_sid=SYSTEM_SID,
                    user_data=("EventXML", "Event_NS", {"User": user, "SessionID": str(session)}))
        if disconnect_after is None else
        EventRecord(provider=LSM, provider_guid=LSM_GUID, event_id=24, time=when + disconnect_after,
                    channel=LSM_OPERATIONAL, computer=computer, level=4, keywords=0x1000000000000000,
                    process_id=988, thread_id=4420, user_sid=SYSTEM_SID,
                    user_data=("EventXML", "Event_NS", {"User": user, "SessionID": str(session), "Address": address})),
    ]


def boot_events(when: datetime, computer: str, nt_version: str, build: int) -> list[EventRecord]:
    """What every boot leaves in System: EventLog 6009 (OS version and build) and 6005."""
    return [
        EventRecord(provider="EventLog", event_source_name="EventLog", event_id=6009, qualifiers=32768, time=when,
                    channel="System", computer=computer, level=4, keywords=0x80000000000000,
                    data=[f"{nt_version}.", str(build), "", "Multiprocessor Free", "0"]),
        EventRecord(provider="EventLog", event_source_name="EventLog", event_id=6005, qualifiers=32768,
                    time=when + timedelta(seconds=1), channel="System", computer=computer, level=4,
                    keywords=0x80000000000000, data=[]),
    ]


def service_state_event(when: datetime, computer: str, display_name: str, state: str, service: str) -> EventRecord:
    """SCM 7036 "The %1 service entered the %2 state." (binary data carries the service name)."""
    return EventRecord(provider=SCM, provider_guid=SCM_GUID, event_source_name=SCM, event_id=7036,
                       qualifiers=16384, time=when, channel="System", computer=computer, level=4,
                       keywords=0x8080000000000000, process_id=716, thread_id=5100,
                       data={"param1": display_name, "param2": state},
                       binary=_service_binary(service, state))


def _service_binary(service: str, state: str) -> bytes:
    return (service + "/" + ("4" if state == "running" else "1")).encode("utf-16-le") + b"\0\0"


def rcm_manifest_event(event_id: int, when: datetime, computer: str, level: int,
                       params: list[str] | None = None) -> EventRecord:
    """An RCM event that exists only in the manifest form and keeps its own number, e.g. 20497 "The
    RD Licensing has taken too long to process the client license" (message 0xB0005011,
    RDS_LICENSING.md 1.2), in RemoteConnectionManager/Admin."""
    return EventRecord(provider=RCM, provider_guid=RCM_GUID, event_id=event_id, time=when, channel=RCM_ADMIN,
                       computer=computer, level=level, keywords=0x4000000000000000, process_id=1204, thread_id=2210,
                       user_sid=NETWORK_SERVICE, data={f"param{i + 1}": p for i, p in enumerate(params or [])})


def service_crashed_event(when: datetime, computer: str, display_name: str, times: int, service: str,
                          restart_ms: int = 60000) -> EventRecord:
    """SCM 7031 "The %1 service terminated unexpectedly. It has done this %2 time(s). The following
    corrective action will be taken in %3 milliseconds: %5." (recovery action 1, restart)."""
    return EventRecord(provider=SCM, provider_guid=SCM_GUID, event_source_name=SCM, event_id=7031,
                       qualifiers=49152, time=when, channel="System", computer=computer, level=2,
                       keywords=0x8080000000000000, process_id=716, thread_id=5100,
                       data={"param1": display_name, "param2": str(times), "param3": str(restart_ms), "param4": "1",
                             "param5": "Restart the service"},
                       binary=service.encode("utf-16-le") + b"\0\0")


_NOISE_SERVICES = [
    ("Windows Update", "wuauserv"), ("Background Intelligent Transfer Service", "BITS"),
    ("Windows Modules Installer", "TrustedInstaller"), ("WinHTTP Web Proxy Auto-Discovery Service", "WinHttpAutoProxySvc"),
    ("Device Setup Manager", "DsmSvc"), ("Software Protection", "sppsvc"), ("Windows Error Reporting Service", "WerSvc"),
    ("Microsoft Account Sign-in Assistant", "wlidsvc"), ("Network List Service", "netprofm"),
]


def noise_events(rng: random.Random, computer: str, start: datetime, end: datetime, count: int) -> list[EventRecord]:
    """Unrelated System events a real server logs all day (services, time sync, GP, kernel)."""
    span = (end - start).total_seconds()
    times = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(count))
    out = []
    for when in times:
        pick = rng.random()
        if pick < 0.55:
            display, name = rng.choice(_NOISE_SERVICES)
            state = rng.choice(("running", "stopped"))
            out.append(service_state_event(when, computer, display, state, name))
        elif pick < 0.70:
            out.append(EventRecord(provider="Microsoft-Windows-Time-Service", provider_guid="{06EDCFEB-0FD0-4E53-ACCA-A6F8BBF81BCB}",
                                   event_id=37, time=when, channel="System", computer=computer, level=4,
                                   keywords=0x8000000000000000, process_id=1012, thread_id=rng.randrange(1000, 9000),
                                   user_sid=LOCAL_SERVICE,
                                   data={"TimeSource": f"DC0{rng.randrange(1, 3)}.contoso.local (ntp.d|0.0.0.0:123->10.0.0.{rng.randrange(2, 9)}:123)"}))
        elif pick < 0.85:
            out.append(EventRecord(provider="Microsoft-Windows-GroupPolicy", provider_guid="{AEA1B4FA-97D1-45F2-A64C-4D69FFFD92C9}",
                                   event_id=1500 + rng.choice((0, 2)), time=when, channel="System", computer=computer, level=4,
                                   keywords=0x8000000000000000, process_id=1108, thread_id=rng.randrange(1000, 9000),
                                   user_sid=SYSTEM_SID, data={"SupportInfo1": "1", "SupportInfo2": str(rng.randrange(600, 5000)),
                                                              "ProcessingMode": "0", "ProcessingTimeInMilliseconds": str(rng.randrange(200, 4000)),
                                                              "DCName": "\\\\DC01.contoso.local", "NumberOfGroupPolicyObjects": str(rng.randrange(2, 9))}))
        elif pick < 0.95:
            out.append(EventRecord(provider="Microsoft-Windows-Kernel-General", provider_guid="{A68CA8B7-004F-D7B6-A698-07E2DE0F1F5D}",
                                   event_id=16, time=when, channel="System", computer=computer, level=4,
                                   keywords=0x8000000000000000, process_id=4, thread_id=rng.randrange(100, 900),
                                   user_sid=SYSTEM_SID, data={"FinalNameCount": str(rng.randrange(10, 200)),
                                                              "HiveName": "\\??\\C:\\Windows\\ServiceProfiles\\NetworkService\\NTUSER.DAT",
                                                              "KeysUpdated": str(rng.randrange(1, 50)), "DirtyPages": str(rng.randrange(1, 90))}))
        else:
            out.append(EventRecord(provider="EventLog", event_source_name="EventLog", event_id=6013, qualifiers=32768,
                                   time=when, channel="System", computer=computer, level=4, keywords=0x80000000000000,
                                   data=[str(rng.randrange(10000, 9000000)), "60", "0 Coordinated Universal Time"]))
    return out
