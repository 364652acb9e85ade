import { Testing } from "cdktf";

// cdktf's custom matchers (toHaveResource, toHaveResourceWithProperties, ...).
Testing.setupJest();
