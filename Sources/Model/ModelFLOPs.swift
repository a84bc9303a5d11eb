extension GPTDimensions {
    /// The parameters one token's forward pass multiplies with: all of them, except that a
    /// mixture-of-experts block runs only `top_k` of its experts for a token.
    public var activeParameterCount: Int {
        let specs = parameterSpecs()
        let total = specs.reduce(0) { $0 + $1.globalCount }
        guard let experts else { return total }
        let oneExpert = Set(ExpertLeaf.leaves(parts).map { GPTParameterName.expert(0, 0, $0) })
        let perExpert = specs.filter { oneExpert.contains($0.name) }.reduce(0) { $0 + $1.globalCount }
        return total - nLayer * (experts.count - experts.topK) * perExpert
    }

    /// Model FLOPs per trained token (forward and backward) over the parameters a token uses: the
    /// numerator of model FLOPs utilisation.
    public var trainingFLOPsPerToken: Double { flopsPerToken(parameterCount: activeParameterCount) }
}
