; CodeMoat definitions for Rust, read before the wheel's tags.scm (the first pattern that captures a node wins):
; the wheel calls structs, enums and type aliases classes and has no path for impl blocks.

(struct_item
  name: (type_identifier) @name) @definition.struct

(enum_item
  name: (type_identifier) @name) @definition.enum

(union_item
  name: (type_identifier) @name) @definition.union

(type_item
  name: (type_identifier) @name) @definition.type

(trait_item
  name: (type_identifier) @name) @definition.trait

; Functions: the wheel calls every function in a declaration list a method, modules included; a function inside
; an impl or a trait becomes a method by its container.
(function_item
  name: (identifier) @name) @definition.function

(const_item
  name: (identifier) @name) @definition.constant

(static_item
  name: (identifier) @name) @definition.constant

; `impl Type` and `impl Trait for Type`: a container in symbol paths, not a definition of its own.
(impl_item
  type: (_) @name) @scope
