"""Methods: a name -> MethodConfig registry (model + optimisers + schedule)."""
