//! Tools listed but not written: Cursor keeps its settings in a database
//! (the user pastes the URL and key into its settings).

use super::{Target, Tool};

pub fn reason(tool: Tool) -> &'static str {
    match tool {
        Tool::Cursor => "Cursor keeps its settings in a database; set them in Cursor's settings",
        _ => "",
    }
}

pub fn note(tool: Tool, t: &Target) -> String {
    match tool {
        Tool::Cursor => format!(
            "Cursor keeps its settings in a database, so aigw writes nothing: in Cursor → Settings → Models, turn on \"Override OpenAI Base URL\" with {}/v1 and use your gateway key as the OpenAI API key. Cursor sends these requests from its own servers, so the gateway must be reachable from the internet for it; \"last seen\" shows when a request from Cursor arrived.",
            t.base()
        ),
        _ => String::new(),
    }
}
