; CodeMoat definitions for JavaScript, read before the wheel's tags.scm (the first pattern that captures a node
; wins). The wheel's method pattern skips `constructor`; a large constructor still needs a path.

(method_definition
  name: [(property_identifier) (private_property_identifier)] @name) @definition.method
