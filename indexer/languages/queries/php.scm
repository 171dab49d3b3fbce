; CodeMoat definitions for PHP, read before the wheel's tags.scm (the first pattern that captures a node wins):
; the wheel calls traits interfaces and methods functions, and has no enums or constants.

(trait_declaration
  name: (name) @name) @definition.trait

(method_declaration
  name: (name) @name) @definition.method

(enum_declaration
  name: (name) @name) @definition.enum

(const_declaration
  (const_element
    (name) @name)) @definition.constant
