import EdgeSLMKit
import SwiftUI

/// A chat over the first edgeslm bundle in Documents/edgeslm (copied there with the Files app or devicectl).
struct ChatView: View {
    @State private var model = ChatModel()
    @State private var draft = ""

    var body: some View {
        NavigationStack {
            VStack(spacing: 0) {
                Text("Research demo, not a medical device. Answers can be wrong or unsafe; do not use them "
                     + "for diagnosis or treatment. Ask a clinician.")
                    .font(.footnote)
                    .foregroundStyle(.secondary)
                    .padding(8)
                    .frame(maxWidth: .infinity)
                    .background(Color.yellow.opacity(0.2))
                ScrollView {
                    LazyVStack(alignment: .leading, spacing: 12) {
                        ForEach(model.messages) { message in
                            Text(message.text)
                                .padding(10)
                                .background(message.fromUser ? Color.blue.opacity(0.15) : Color.gray.opacity(0.12))
                                .clipShape(RoundedRectangle(cornerRadius: 10))
                                .frame(maxWidth: .infinity, alignment: message.fromUser ? .trailing : .leading)
                        }
                    }
                    .padding()
                }
                HStack {
                    TextField("Ask about a condition or a drug", text: $draft, axis: .vertical)
                        .textFieldStyle(.roundedBorder)
                    Button("Send") {
                        let prompt = draft
                        draft = ""
                        Task { await model.send(prompt) }
                    }
                    .disabled(draft.isEmpty || model.busy || model.bundle == nil)
                }
                .padding()
            }
            .navigationTitle(model.title)
            .task { await model.open() }
        }
    }
}

struct Message: Identifiable {
    let id = UUID()
    let fromUser: Bool
    var text: String
}

@MainActor
@Observable
final class ChatModel {
    var messages: [Message] = []
    var busy = false
    var title = "EdgeSLM"
    var bundle: EdgeSLMBundle?

    func open() async {
        let root = URL.documentsDirectory.appendingPathComponent("edgeslm")
        let folders = (try? FileManager.default.contentsOfDirectory(at: root, includingPropertiesForKeys: nil)) ?? []
        guard let folder = folders.sorted(by: { $0.path < $1.path }).first(where: {
            FileManager.default.fileExists(atPath: $0.appendingPathComponent("manifest.json").path)
        }) else {
            messages.append(Message(fromUser: false, text: "No bundle found. Copy an `edgeslm export --target ios` "
                                    + "folder into Documents/edgeslm (Files app, or xcrun devicectl device copy to)."))
            return
        }
        do {
            bundle = try await EdgeSLMBundle(folder: folder)
            title = folder.lastPathComponent
        } catch {
            messages.append(Message(fromUser: false, text: "Cannot open \(folder.lastPathComponent): "
                                    + error.localizedDescription))
        }
    }

    func send(_ prompt: String) async {
        guard let bundle else { return }
        busy = true
        defer { busy = false }
        messages.append(Message(fromUser: true, text: prompt))
        messages.append(Message(fromUser: false, text: ""))
        let index = messages.count - 1
        do {
            for try await piece in bundle.generate(prompt: prompt) {
                messages[index].text += piece
            }
        } catch {
            messages[index].text += "\n[\(error.localizedDescription)]"
        }
    }
}
