"""The hub operators' web dashboard (`mch-hub web`): see docs/dashboard.md."""
