; CodeMoat definitions for TypeScript and TSX, read before the TypeScript wheel's tags.scm, which only adds
; signatures and abstract classes to JavaScript's, and the JavaScript wheel's tags.scm.

(method_definition
  name: [(property_identifier) (private_property_identifier)] @name) @definition.method

(class_declaration
  name: (type_identifier) @name) @definition.class

(abstract_class_declaration
  name: (type_identifier) @name) @definition.class

(interface_declaration
  name: (type_identifier) @name) @definition.interface

(type_alias_declaration
  name: (type_identifier) @name) @definition.type

(enum_declaration
  name: (identifier) @name) @definition.enum

(internal_module
  name: [(identifier) (nested_identifier)] @name) @definition.module
