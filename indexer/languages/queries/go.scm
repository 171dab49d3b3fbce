; CodeMoat definitions for Go, read before the wheel's tags.scm (the first pattern that captures a node wins):
; the wheel calls every type a type; these tell structs and interfaces apart and add constants.

(type_spec
  name: (type_identifier) @name
  type: (struct_type)) @definition.struct

(type_spec
  name: (type_identifier) @name
  type: (interface_type)) @definition.interface

(type_alias
  name: (type_identifier) @name) @definition.type

(source_file
  (const_declaration
    (const_spec
      name: (identifier) @name) @definition.constant))
