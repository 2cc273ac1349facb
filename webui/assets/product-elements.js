/* What the modeler offers: only the elements and properties that the product runs.

   The engine executes start and end events, user tasks (with camunda:formData forms), business
   rule tasks (camunda:decisionRef), exclusive, parallel and inclusive gateways and sequence flows
   with conditions; lanes, pools, text annotations and groups only draw. Anything else would be
   refused by the check at publish time, so the palette, the context pad, the replace menu and the
   properties panel do not offer it. Each part hooks into the library's own provider API with a
   priority below the default providers, so it sees (and filters) what they offer:
   - palette and context pad: a provider whose entries are an updater function;
   - replace menu: a second provider registered under the same id ('bpmn-replace');
   - properties panel: a provider whose groups are an updater function, keeping groups by id.
   Diagrams from elsewhere still open and save as they are: nothing here touches the import. */
import {
  CheckboxEntry,
  SelectEntry,
  TextFieldEntry,
  isCheckboxEntryEdited,
  isSelectEntryEdited,
  isTextFieldEntryEdited,
} from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";

// Below the default providers (1000) and the Camunda properties provider (500): runs last.
const LAST = 100;

// --- palette -----------------------------------------------------------------------------------

const PALETTE_KEEP = new Set([
  "hand-tool", "lasso-tool", "space-tool", "global-connect-tool", "tool-separator",
  "create.start-event", "create.end-event", "create.exclusive-gateway",
  "create.participant-expanded", "create.group",
]);

function ProductPalette(palette, create, elementFactory, translate) {
  function createAction(type, group, className, title, options) {
    function start(event) {
      create.start(event, elementFactory.createShape({ type, ...options }));
    }
    return { group, className, title, action: { dragstart: start, click: start } };
  }

  this.getPaletteEntries = function() {
    return function(entries) {
      const kept = {};
      for (const [id, entry] of Object.entries(entries)) {
        if (PALETTE_KEEP.has(id)) {
          kept[id] = entry;
        }
        if (id === "create.end-event") {
          // The other gateways and the two kinds of task right after the events, in the
          // palette's own group order.
          Object.assign(kept, {
            "create.user-task": createAction("bpmn:UserTask", "activity", "bpmn-icon-user-task",
              translate("Create user task")),
            "create.business-rule-task": createAction("bpmn:BusinessRuleTask", "activity",
              "bpmn-icon-business-rule-task", translate("Create business rule task")),
          });
        }
        if (id === "create.exclusive-gateway") {
          Object.assign(kept, {
            "create.parallel-gateway": createAction("bpmn:ParallelGateway", "gateway",
              "bpmn-icon-gateway-parallel", translate("Create parallel gateway")),
            "create.inclusive-gateway": createAction("bpmn:InclusiveGateway", "gateway",
              "bpmn-icon-gateway-or", translate("Create inclusive gateway")),
          });
        }
      }
      if (kept["create.exclusive-gateway"]) {
        kept["create.exclusive-gateway"] = { ...kept["create.exclusive-gateway"],
          title: translate("Create exclusive gateway") };
      }
      if (!kept["create.text-annotation"]) {
        kept["create.text-annotation"] = createAction("bpmn:TextAnnotation", "artifact",
          "bpmn-icon-text-annotation", translate("Create text annotation"));
      }
      return kept;
    };
  };
  palette.registerProvider(LAST, this);
}
ProductPalette.$inject = ["palette", "create", "elementFactory", "translate"];

// --- context pad -------------------------------------------------------------------------------

const CONTEXT_PAD_DROP = new Set([
  "append.intermediate-event", "append.receive-task", "append.message-intermediate-event",
  "append.timer-intermediate-event", "append.condition-intermediate-event",
  "append.signal-intermediate-event", "append.compensation-activity",
  "connect.data-input-association",
]);

function ProductContextPad(contextPad, autoPlace, appendPreview, create, elementFactory, translate) {
  // As bpmn-js's own "append" entries: a click places the task, a drag lets one drop it.
  function appendUserTask(className, title) {
    return {
      group: "model", className, title,
      action: {
        click: (event, element) => autoPlace.append(element,
          elementFactory.createShape({ type: "bpmn:UserTask" })),
        dragstart: (event, element) => create.start(event,
          elementFactory.createShape({ type: "bpmn:UserTask" }), { source: element }),
        hover: (event, element) => {
          appendPreview.create(element, "bpmn:UserTask");
          return () => appendPreview.cleanUp();
        },
      },
    };
  }

  this.getContextPadEntries = function() {
    return function(entries) {
      const kept = {};
      for (const [id, entry] of Object.entries(entries)) {
        if (CONTEXT_PAD_DROP.has(id)) {
          continue;
        }
        // "Append task" makes a plain task, which nothing completes: append a user task instead.
        kept[id] = id === "append.append-task"
          ? appendUserTask("bpmn-icon-user-task", translate("Append user task")) : entry;
      }
      return kept;
    };
  };
  contextPad.registerProvider(LAST, this);
}
ProductContextPad.$inject = ["contextPad", "autoPlace", "appendPreview", "create", "elementFactory", "translate"];

// --- replace menu ------------------------------------------------------------------------------

const REPLACE_KEEP = new Set([
  "replace-with-none-start", "replace-with-none-end",
  "replace-with-user-task", "replace-with-rule-task",
  "replace-with-exclusive-gateway", "replace-with-parallel-gateway", "replace-with-inclusive-gateway",
  "replace-with-sequence-flow", "replace-with-default-flow", "replace-with-conditional-flow",
  "replace-with-expanded-pool",
]);

function ProductReplaceMenu(popupMenu) {
  this.getPopupMenuEntries = function() {
    return function(entries) {
      return Object.fromEntries(Object.entries(entries).filter(([id]) => REPLACE_KEEP.has(id)));
    };
  };
  // Loop, multi-instance, collection, non-interrupting: not run by the engine. A toggle that is
  // already on (a file from elsewhere) stays, so it can be switched off.
  this.getPopupMenuHeaderEntries = function() {
    return function(entries) {
      return Object.fromEntries(Object.entries(entries).filter(([, entry]) => entry.active));
    };
  };
  popupMenu.registerProvider("bpmn-replace", LAST, this);
}
ProductReplaceMenu.$inject = ["popupMenu"];

// --- properties panel --------------------------------------------------------------------------

// Groups that hold what the product runs or shows; every other group (listeners, input/output,
// asynchronous continuations, job execution, external task, connector, script, field injection,
// extension properties, call activity, multi-instance, timers, messages...) is left out.
const PANEL_KEEP = new Set([
  "general", "documentation", "CamundaPlatform__Condition", "CamundaPlatform__FormData",
]);
// Entries of the general group that are Camunda deployment settings, not run here.
const GENERAL_DROP = new Set(["versionTag"]);

function ProductProperties(propertiesPanel, translate) {
  this.getGroups = function(element) {
    return function(groups) {
      const kept = [];
      for (const group of groups) {
        if (group.id === "CamundaPlatform__Form") {
          // The only form the engine reads is camunda:formData. A task that has one shows its
          // fields; a task without one gets a switch to add one (no form keys or Camunda Forms).
          if (is(element, "bpmn:UserTask") && !formDataOf(element)) {
            kept.push({ ...group, entries: [{ id: "mcFormFields", component: FormFieldsSwitch,
              isEdited: isCheckboxEntryEdited }] });
          }
          continue;
        }
        if (group.id === "CamundaPlatform__Implementation") {
          if (is(element, "bpmn:BusinessRuleTask")) {
            kept.push({ ...group, label: translate("Decision table"),
              entries: [{ id: "decisionRef", component: DecisionRef, isEdited: isTextFieldEntryEdited }] });
          }
          continue;
        }
        if (!PANEL_KEEP.has(group.id)) {
          continue;
        }
        let entries = group.entries;
        if (group.id === "general" && entries) {
          entries = entries.filter((entry) => !GENERAL_DROP.has(entry.id));
        }
        if (group.id === "CamundaPlatform__Condition" && entries && conditionKind(element) !== "script") {
          // An expression or nothing; a script condition (from a file made elsewhere) keeps the
          // library's entries, so it can be seen and changed.
          entries = entries.map((entry) => entry.id === "conditionType"
            ? { ...entry, component: ConditionKind, isEdited: isSelectEntryEdited } : entry);
        }
        // The groups' own buttons and titles ("Create", "Toggle section") go through the same
        // translation as everything else.
        kept.push({ ...group, entries, translate });
      }
      return kept;
    };
  };
  propertiesPanel.registerProvider(LAST, this);
}
ProductProperties.$inject = ["propertiesPanel", "translate"];

function formDataOf(element) {
  const extensions = getBusinessObject(element).get("extensionElements");
  return extensions && (extensions.get("values") || []).find((value) => is(value, "camunda:FormData"));
}

function FormFieldsSwitch(props) {
  const { element } = props;
  const translate = useService("translate");
  const bpmnFactory = useService("bpmnFactory");
  const commandStack = useService("commandStack");
  const setValue = (on) => {
    if (on) {
      addFormData(element, bpmnFactory, commandStack);
    }
  };
  return CheckboxEntry({
    element, id: "mcFormFields", label: translate("Form with fields"),
    description: translate("The engine shows these fields to the person who completes the task."),
    getValue: () => Boolean(formDataOf(element)), setValue,
  });
}

function addFormData(element, bpmnFactory, commandStack) {
  const bo = getBusinessObject(element);
  const commands = [{ cmd: "element.updateModdleProperties", context: { element, moddleElement: bo,
    properties: { "camunda:formKey": undefined, "camunda:formRef": undefined,
      "camunda:formRefBinding": undefined, "camunda:formRefVersion": undefined } } }];
  let extensions = bo.get("extensionElements");
  if (!extensions) {
    extensions = bpmnFactory.create("bpmn:ExtensionElements", { values: [] });
    extensions.$parent = bo;
    commands.push({ cmd: "element.updateModdleProperties",
      context: { element, moddleElement: bo, properties: { extensionElements: extensions } } });
  }
  const formData = bpmnFactory.create("camunda:FormData", { fields: [] });
  formData.$parent = extensions;
  commands.push({ cmd: "element.updateModdleProperties", context: { element, moddleElement: extensions,
    properties: { values: [...extensions.get("values"), formData] } } });
  commandStack.execute("properties-panel.multi-command-executor", commands);
}

function conditionKind(element) {
  const condition = getBusinessObject(element).get("conditionExpression");
  if (!condition) {
    return "";
  }
  return condition.get("language") === undefined ? "expression" : "script";
}

function ConditionKind(props) {
  const { element } = props;
  const translate = useService("translate");
  const bpmnFactory = useService("bpmnFactory");
  const commandStack = useService("commandStack");
  const setValue = (value) => {
    const bo = getBusinessObject(element);
    let condition;
    if (value === "expression") {
      condition = bpmnFactory.create("bpmn:FormalExpression", { body: "" });
      condition.$parent = bo;
    }
    const commands = [];
    if (condition && element.source && element.source.businessObject.default === bo) {
      // A flow with a condition is no longer the gateway's default flow.
      commands.push({ cmd: "element.updateProperties",
        context: { element: element.source, properties: { default: undefined } } });
    }
    commands.push({ cmd: "element.updateProperties",
      context: { element, properties: { conditionExpression: condition } } });
    commandStack.execute("properties-panel.multi-command-executor", commands);
  };
  return SelectEntry({
    element, id: "conditionType", label: translate("Type"),
    getValue: () => conditionKind(element), setValue,
    getOptions: () => [
      { value: "", label: translate("<none>") },
      { value: "expression", label: translate("Expression") },
    ],
  });
}

function DecisionRef(props) {
  const { element } = props;
  const translate = useService("translate");
  const debounce = useService("debounceInput");
  const commandStack = useService("commandStack");
  const bo = getBusinessObject(element);
  return TextFieldEntry({
    element, id: "decisionRef", label: translate("Decision reference"), debounce,
    description: translate("The id of the decision in the decision table file."),
    getValue: () => bo.get("camunda:decisionRef"),
    setValue: (value) => commandStack.execute("element.updateModdleProperties", {
      element, moddleElement: bo, properties: { "camunda:decisionRef": value || undefined },
    }),
  });
}

// --- new user tasks get a form -----------------------------------------------------------------

// A user task made in this modeler starts with an (empty) camunda:formData, so its "Form fields"
// list is there at once; copies and files from elsewhere keep what they have.
function NewUserTaskForm(eventBus, bpmnFactory, commandStack) {
  // Inside the create command (postExecute), so one undo removes the task and its form.
  eventBus.on("commandStack.shape.create.postExecute", (event) => {
    const shape = event.context && event.context.shape;
    if (shape && is(shape, "bpmn:UserTask") && !formDataOf(shape)) {
      addFormData(shape, bpmnFactory, commandStack);
    }
  });
}
NewUserTaskForm.$inject = ["eventBus", "bpmnFactory", "commandStack"];

export default {
  __init__: ["productPalette", "productContextPad", "productReplaceMenu", "productProperties",
    "newUserTaskForm"],
  productPalette: ["type", ProductPalette],
  productContextPad: ["type", ProductContextPad],
  productReplaceMenu: ["type", ProductReplaceMenu],
  productProperties: ["type", ProductProperties],
  newUserTaskForm: ["type", NewUserTaskForm],
};
