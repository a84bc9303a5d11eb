import Config
import Testing

private let monitored = """
    [[eval]]
    name = "heldout"
    path = "data/heldout.txt"
    every = 50

    [[eval]]
    name = "hella.1"
    path = "tasks/hella.jsonl"
    kind = "choice"

    [[alarm]]
    metric = "loss"
    when = "jump"
    value = 0.5
    window = 10
    action = "log"

    [[alarm]]
    metric = "accuracy/hella.1"
    when = "drop"
    value = 5
    action = "exec"
    command = "mail -s alarm me"
    """

@Test func evalEntriesAndAlarmRulesReadWithTheirDefaults() throws {
    let config = try TesseraConfig.parse(toml: monitored)
    #expect(config.evals == [EvalEntry(name: "heldout", path: "data/heldout.txt", kind: .lm, every: 50),
                             EvalEntry(name: "hella.1", path: "tasks/hella.jsonl", kind: .choice, every: 250)])
    #expect(config.alarms == [AlarmRule(metric: "loss", when: .jump, value: 0.5, window: 10, action: .log),
                              AlarmRule(metric: "accuracy/hella.1", when: .drop, value: 5, window: 20, action: .exec,
                                        command: "mail -s alarm me")])
}

@Test func evalEntriesAndAlarmRulesSurviveTheCanonicalText() throws {
    let config = try TesseraConfig.parse(toml: monitored)
    #expect(try TesseraConfig.parse(toml: config.tomlText()) == config)
    #expect(config.tomlText().contains("[[alarm]]\nmetric = \"loss\"\nwhen = \"jump\"\nvalue = 0.5\nwindow = 10\n"))
}

@Test func aBadConditionOrActionNamesTheChoices() throws {
    #expect(try parseError("[[alarm]]\nmetric = \"loss\"\nwhen = \"sometimes\"\n").description
        == "alarm.when must be one of nonfinite, above, below, jump, drop, stalled, got \"sometimes\" in [[alarm]] 1 of x.toml")
    #expect(try parseError("[[alarm]]\nmetric = \"loss\"\naction = \"page\"\n").description
        == "alarm.action must be one of log, stop, exec, got \"page\" in [[alarm]] 1 of x.toml")
    #expect(try parseError("[[eval]]\nname = \"a\"\npath = \"b\"\nkind = \"mmlu\"\n").description
        == "eval.kind must be one of lm, choice, bias, got \"mmlu\" in [[eval]] 1 of x.toml")
}

@Test func anUnknownEntryKeySuggestsTheNearOne() throws {
    #expect(try parseError("[[alarm]]\nmetric = \"loss\"\nthreshold = 3\n")
        == .unknownKey(key: "alarm.threshold", source: "[[alarm]] 1 of x.toml", suggestion: nil))
    #expect(try parseError("[[alarm]]\nmetric = \"loss\"\nwindw = 3\n")
        == .unknownKey(key: "alarm.windw", source: "[[alarm]] 1 of x.toml", suggestion: "alarm.window"))
    #expect(try parseError("[alarms]\nmetric = \"loss\"\n")
        == .unknownSection(section: "alarms", source: "x.toml", suggestion: "alarm"))
}

@Test func entryValuesOfTheWrongTypeAreTypeErrors() throws {
    #expect(try parseError("[[alarm]]\nmetric = \"loss\"\nvalue = \"high\"\n")
        == .wrongType(key: "alarm.value", expected: "a number", found: "a string \"high\"", source: "[[alarm]] 1 of x.toml"))
    #expect(try parseError("alarm = 3\n")
        == .wrongType(key: "alarm", expected: "an array of tables ([[alarm]])", found: "an integer", source: "x.toml"))
}

@Test func execNeedsACommandAndOnlyExecTakesOne() throws {
    #expect(try parseError("[[alarm]]\nmetric = \"loss\"\naction = \"exec\"\n").description
        == "alarm.command = \"\" must name a shell command for action = \"exec\" ([[alarm]] 1)")
    #expect(try parseError("[[alarm]]\nmetric = \"loss\"\ncommand = \"true\"\n").description
        == "alarm.command = \"true\" is only run by action = \"exec\", and this rule's action is \"stop\" ([[alarm]] 1)")
}

@Test func eachConditionChecksItsValue() throws {
    #expect(badValueKey(try parseError("[[alarm]]\nwhen = \"above\"\n")) == "alarm.metric")
    for when in ["jump", "drop", "stalled"] {
        #expect(badValueKey(try parseError("[[alarm]]\nmetric = \"loss\"\nwhen = \"\(when)\"\n")) == "alarm.value", "\(when)")
    }
    #expect(badValueKey(try parseError("[[alarm]]\nmetric = \"loss\"\nwindow = 0\n")) == "alarm.window")
    _ = try TesseraConfig.parse(toml: "[[alarm]]\nmetric = \"loss\"\nwhen = \"below\"\nvalue = -3\n")
}

@Test func evalEntriesNeedAUniqueNameAPathAndAPositiveEvery() throws {
    #expect(badValueKey(try parseError("[[eval]]\npath = \"a\"\n")) == "eval.name")
    #expect(badValueKey(try parseError("[[eval]]\nname = \"a b\"\npath = \"a\"\n")) == "eval.name")
    #expect(badValueKey(try parseError("[[eval]]\nname = \"a\"\n")) == "eval.path")
    #expect(badValueKey(try parseError("[[eval]]\nname = \"a\"\npath = \"p\"\nevery = 0\n")) == "eval.every")
    #expect(try parseError("[[eval]]\nname = \"a\"\npath = \"p\"\n[[eval]]\nname = \"a\"\npath = \"q\"\n").description
        == "eval.name = \"a\" is used by more than one [[eval]]")
}
