-- CodeMoat for Neovim: attaches codemoat-lsp to every buffer with a file type.
--
--   require("codemoat").setup({ url = "http://codemoat.corp:8000", token_file = "~/.config/codemoat/token" })
--
-- Neovim 0.12+ (vim.lsp.inline_completion): ghost-text suggestions, <Tab> accepts.
-- Neovim 0.11 (vim.lsp.config / vim.lsp.completion): suggestions in the completion menu as you type.
-- Neovim 0.7–0.10: the completion menu through 'omnifunc' (<C-x><C-o>), vim.lsp.start_client.
-- Code actions (Explain, Add docstring, Write tests, Fix) come through vim.lsp.buf.code_action() on a selection.
local M = {}

local function init_options(opts)
  return {
    url = opts.url or os.getenv("CODEMOAT_URL"),
    token = opts.token or os.getenv("CODEMOAT_TOKEN"),
    tokenFile = opts.token_file and vim.fn.expand(opts.token_file) or nil,
    maxTokens = opts.max_tokens,
    debounceMs = opts.debounce_ms,
    timeoutMs = opts.timeout_ms,
    maxTimeoutMs = opts.max_timeout_ms,
    enabledLanguages = opts.enabled_languages,
  }
end

local function root_of(bufnr)
  local path = vim.api.nvim_buf_get_name(bufnr)
  local found = vim.fn.finddir(".git", vim.fn.fnamemodify(path, ":p:h") .. ";")
  if found ~= "" then
    return vim.fn.fnamemodify(found, ":p:h:h")
  end
  return vim.fn.getcwd()
end

local function on_attach(client, bufnr)
  if vim.lsp.inline_completion then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    vim.keymap.set("i", "<Tab>", function()
      if not vim.lsp.inline_completion.get() then
        return "<Tab>"
      end
    end, { buffer = bufnr, expr = true, desc = "CodeMoat: accept the suggestion" })
  elseif vim.lsp.completion and vim.lsp.completion.enable then
    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = true })
  else
    vim.api.nvim_buf_set_option(bufnr, "omnifunc", "v:lua.vim.lsp.omnifunc")
  end
end

function M.setup(opts)
  opts = opts or {}
  local cmd = opts.cmd or { "codemoat-lsp" }
  local options = init_options(opts)

  if vim.fn.has("nvim-0.11") == 1 then
    vim.lsp.config("codemoat", {
      cmd = cmd,
      root_markers = { ".git" },
      init_options = options,
      on_attach = on_attach,
    })
    vim.lsp.enable("codemoat")
    return
  end

  -- 0.7–0.10: one client for the session, attached to each buffer that gets a file type.
  local client_id = nil
  local group = vim.api.nvim_create_augroup("codemoat", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    callback = function(args)
      if vim.bo[args.buf].buftype ~= "" then
        return
      end
      if client_id == nil or vim.lsp.get_client_by_id(client_id) == nil then
        client_id = vim.lsp.start_client({
          name = "codemoat",
          cmd = cmd,
          root_dir = root_of(args.buf),
          init_options = options,
          on_attach = on_attach,
        })
      end
      if client_id then
        vim.lsp.buf_attach_client(args.buf, client_id)
      end
    end,
  })
  M.client_id = function()
    return client_id
  end
end

return M
