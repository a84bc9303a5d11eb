/// The type the linear layers' matrix products run in: fp32, or bf16 operands accumulating in fp32.
public enum ComputeType: String, Sendable, Codable, CaseIterable {
    case fp32, bf16
}
