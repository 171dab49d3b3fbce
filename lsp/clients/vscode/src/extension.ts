// CodeMoat for VS Code: starts `codemoat-lsp` over stdio and lets vscode-languageclient do the rest.
// Inline completion (ghost text), the completion fallback, code actions and their commands all come from the
// server; settings under `codemoat.*` reach it through initializationOptions and workspace/configuration.
import * as vscode from "vscode";
import {
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;

function settings(): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration("codemoat");
  const keys = [
    "url", "token", "tokenFile", "debounceMs", "debounceMaxMs", "timeoutMs", "maxTimeoutMs", "maxTokens", "enabledLanguages",
    "telemetry",
  ];
  const options: Record<string, unknown> = {};
  for (const key of keys) {
    const value = config.get(key);
    // Empty strings mean "not set here": the server falls back to CODEMOAT_URL / CODEMOAT_TOKEN.
    if (value !== undefined && value !== "") {
      options[key] = value;
    }
  }
  return options;
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  const command = vscode.workspace.getConfiguration("codemoat").get<string>("serverPath") || "codemoat-lsp";
  const serverOptions: ServerOptions = {
    run: { command, args: ["--stdio"], transport: TransportKind.stdio },
    debug: { command, args: ["--stdio"], transport: TransportKind.stdio },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    initializationOptions: settings(),
    synchronize: { configurationSection: "codemoat" },
    outputChannelName: "CodeMoat",
    middleware: {
      // Explanations come back as the command's result when the server cannot open a document.
      executeCommand: async (name, args, next) => {
        const result = await next(name, args);
        if (result && typeof result === "object" && (result as { kind?: string }).kind === "explanation") {
          const { uri, text } = result as { uri?: string; text: string };
          if (!uri) {
            const doc = await vscode.workspace.openTextDocument({ content: text, language: "markdown" });
            await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
          }
        }
        return result;
      },
    },
  };
  client = new LanguageClient("codemoat", "CodeMoat", serverOptions, clientOptions);
  await client.start();
  context.subscriptions.push(client);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("codemoat.restart", async () => {
      await client?.stop();
      await start(context);
    }),
  );
  try {
    await start(context);
  } catch (error) {
    void vscode.window.showErrorMessage(
      `CodeMoat could not start codemoat-lsp (${String(error)}): install it with \`pip install codemoat\` ` +
        "or set codemoat.serverPath",
    );
  }
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}

// Kept for extensions that want to call the server's commands directly.
export async function runServerCommand(name: string, ...args: unknown[]): Promise<unknown> {
  return client?.sendRequest(ExecuteCommandRequest.type, { command: name, arguments: args });
}
