extension String {
    /// Its last `count` lines on one line (joined by " ⏎ "): a failure message whose CI log keeps
    /// only the lines that name failures still shows why.
    func lastLinesOnOneLine(_ count: Int) -> String {
        split(separator: "\n").suffix(count).joined(separator: " ⏎ ")
    }
}
