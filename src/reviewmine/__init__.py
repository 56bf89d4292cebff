"""reviewmine: mine app-store reviews of mental-health apps for engagement factors."""

__version__ = "0.1.0"
