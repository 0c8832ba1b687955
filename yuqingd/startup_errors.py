"""What the system refused when the daemon started, told as what it is.

A missing runtime directory (the service command run by hand before systemd made
``/run/yuqingd``), a folder the user may not write, a port already taken: these reach ``yuqingd
run`` as an ``OSError`` deep inside trio's nursery exception groups. A sysadmin needs the path,
the reason and what to do, in one line and with an exit status to act on — not a 45-line
exception-group traceback, and not "a config error" (the config is fine).
"""

from __future__ import annotations

import errno

from yuqingd.exit_codes import EX_CANTCREAT, EX_NOPERM, EX_OSERR, EX_UNAVAILABLE
from yuqingd.located import msg


def os_error_in(exc: BaseException) -> OSError | None:
    """The first OSError among ``exc`` and the exception groups it is wrapped in."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = os_error_in(inner)
            if found is not None:
                return found
    return None


def describe(error: OSError) -> tuple[str, int]:
    """(the message for a person, the exit status) for an OSError met while starting."""
    where = str(error.filename) if error.filename else ""
    reason = error.strerror or str(error)
    service_dirs_zh = ("以服务运行时 systemd 会创建 /run/yuqingd 和 /var/lib/yuqingd"
                       "（用 systemctl start yuqingd 启动）；"
                       "手动运行请用服务用户（sudo -u yuqingd），"
                       "或在配置中把 state_dir、control_socket 设到可写的目录")
    service_dirs_en = ("as a service, systemd makes /run/yuqingd and /var/lib/yuqingd (start it "
                       "with systemctl start yuqingd); by hand, run as the service user "
                       "(sudo -u yuqingd) or point state_dir and control_socket at writable "
                       "folders in the config")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return msg(f"yuqingd: 无法启动：没有权限写入 {where}（{reason}）。{service_dirs_zh}。",
                   f"yuqingd: cannot start: no permission for {where} ({reason}); "
                   f"{service_dirs_en}."), EX_NOPERM
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return msg(f"yuqingd: 无法启动：无法创建 {where}，上级目录不存在（{reason}）。"
                   f"{service_dirs_zh}。",
                   f"yuqingd: cannot start: cannot create {where}, its parent folder does not "
                   f"exist ({reason}); {service_dirs_en}."), EX_CANTCREAT
    if error.errno == errno.EADDRINUSE:
        return msg(f"yuqingd: 无法启动：地址已被占用 {where}（{reason}）。"
                   "是否已有一个 yuqingd 在运行？请检查配置中的 http.listen。",
                   f"yuqingd: cannot start: address in use {where} ({reason}); is another "
                   "yuqingd running? Check http.listen in the config."), EX_UNAVAILABLE
    return msg(f"yuqingd: 无法启动：{reason}{'：' + where if where else ''}",
               f"yuqingd: cannot start: {reason}{': ' + where if where else ''}"), EX_OSERR
