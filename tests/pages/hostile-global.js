// The page already has a window.leadgate object of its own (an older embed, a config holder).
window.leadgate = { theirs: true, queue: [] };
