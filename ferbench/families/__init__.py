"""Model families. Each `*.py` module here (not starting with `_`, not base/registry) defines and
registers one or more families; `registry.load_all()` finds them by convention."""
