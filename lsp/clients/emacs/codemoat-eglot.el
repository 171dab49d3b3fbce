;;; codemoat-eglot.el --- CodeMoat through eglot (Emacs 29+)  -*- lexical-binding: t; -*-
;;
;; Load it from your init file: (load "/path/to/codemoat/lsp/clients/emacs/codemoat-eglot.el")
;; then M-x eglot in a buffer.  Suggestions come through completion-at-point (corfu/company show them as you
;; type); code actions (Explain, Add docstring, Write tests, Fix) through M-x eglot-code-actions on a region.
;;
;; eglot runs one server per buffer: with this, CodeMoat replaces the mode's usual language server.  To keep
;; both, run them behind an LSP multiplexer, or use lsp-mode, which runs several servers per buffer.

(require 'eglot)

(defgroup codemoat nil "CodeMoat, the on-premises coding assistant." :group 'tools)

(defcustom codemoat-url "http://codemoat.corp.example:8000"
  "URL of the CodeMoat appliance." :type 'string)

(defcustom codemoat-token-file "~/.config/codemoat/token"
  "File holding the token from `codemoat token create NAME'." :type 'string)

(defcustom codemoat-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-ts-mode tsx-ts-mode go-mode go-ts-mode
    rust-mode rust-ts-mode java-mode java-ts-mode c-mode c-ts-mode c++-mode c++-ts-mode sh-mode)
  "Major modes in which eglot starts codemoat-lsp." :type '(repeat symbol))

(add-to-list 'eglot-server-programs
             `(,codemoat-modes
               . ("codemoat-lsp" "--stdio"
                  :initializationOptions (:url ,codemoat-url
                                          :tokenFile ,(expand-file-name codemoat-token-file)))))

;; workspace/configuration (section "codemoat"): change settings without restarting the server.
(setq-default eglot-workspace-configuration
              (plist-put (default-value 'eglot-workspace-configuration)
                         :codemoat '(:maxTokens 64 :debounceMs 40)))

(provide 'codemoat-eglot)
;;; codemoat-eglot.el ends here
