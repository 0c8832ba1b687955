"""yuqingd: public-opinion monitoring and escalation daemon (舆情监测)."""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("yuqingd")
